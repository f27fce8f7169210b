"""``hotline build``: generate the corpus, train the default classifier, build the FAQ index.

Artefacts are written into a fresh versioned build folder ``<home>/builds/<id>/`` (the build registry,
:mod:`hotline.store.builds`), which is then promoted: ``<home>/current`` switches atomically, and running
servers load the new build in the background (they poll the link) — no downtime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import write_jsonl
from hotline.core.settings import Settings
from hotline.store.builds import BuildRegistry, switch_link

__all__ = ["build_default", "is_built", "switch_link", "split_corpus", "NO_ANSWER_FILE"]

NO_ANSWER_FILE = "no_answer_model.json"  # beside the classifier it was fitted for
VECTOR_CACHE = "cache/vectors.sqlite3"  # under HOTLINE_HOME: sentence vectors reused by later builds (safe to delete)

logger = logging.getLogger(__name__)


def is_built(settings: Settings) -> bool:
    return (settings.classifier_dir / "meta.json").is_file() and (settings.index_dir / "meta.json").is_file()


def split_corpus(records: list[dict[str, Any]], *, holdout: float = 0.1, seed: int = 7):
    """Per-label split of generated records into train and held-out lists (deterministic)."""
    import random

    rng = random.Random(seed)
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_label.setdefault(r["label"], []).append(r)
    train, held = [], []
    for label in sorted(by_label):
        rows = by_label[label][:]
        rng.shuffle(rows)
        k = int(len(rows) * holdout)
        held += rows[:k]
        train += rows[k:]
    return train, held


def _step(n: int, total: int, what: str) -> float:
    logger.info("[%d/%d] %s …", n, total, what)
    return time.perf_counter()


def build_default(settings: Settings, *, per_code: int = 400, seed: int = 13, encoder: str | None = None,
                  builder: str = "complaint.ensemble.v1", call_per_code: int = 60, no_answer_per_code: int = 50,
                  extra_records: Sequence[Mapping[str, Any]] | None = None,
                  weighting: Callable[[Mapping[str, Any]], int] | None = None, out: Path | None = None,
                  promote: bool = True, source: str = "build") -> dict[str, Any]:
    """Build the shipped telecom demo: corpus → classifier → call model → FAQ index. Returns a summary with metrics.

    ``call_per_code``: generated whole calls per code for the call model.
    ``no_answer_per_code``: generated caller queries per code for the no-answer model.
    ``extra_records``: ``{"text", "label", "weight", "source"}`` records (operations data, a user's labelled
    JSONL; :mod:`hotline.training.operations`) trained beside the generated corpus: each counts as
    ``weighting(record)`` generated utterances (default: its ``weight``). They join the classifier's training
    data only, never the held-out split its calibration and abstain thresholds are fitted on, and the pool the
    scope model samples its in-scope speech from; the call, no-answer and index steps are refitted for the new classifier as usual.
    ``out``: the build folder to fill (default: a new one from the registry with ``source``).
    ``promote``: False leaves the live build as it is (``hotline retrain`` promotes after its gate).
    """
    from hotline.index.publish import build_kb_index
    from hotline.models.encoders import load_encoder
    from hotline.training.generate import CorpusGenerator
    from hotline.training.train import train_classifier

    encoder = encoder or settings.encoder
    registry = BuildRegistry(settings)
    out = Path(out) if out is not None else registry.create(source=source)
    total = 5
    summary: dict[str, Any] = {"build": str(out), "encoder": encoder,
                               "params": {"per_code": per_code, "seed": seed, "builder": builder,
                                          "call_per_code": call_per_code, "no_answer_per_code": no_answer_per_code,
                                          "encoder": encoder}}

    t = _step(1, total, f"generating the training corpus ({per_code} per code, seed {seed})")
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    train, held = split_corpus(records)
    write_jsonl(train, out / "data" / "train.jsonl")
    write_jsonl(held, out / "data" / "heldout.jsonl")
    summary["corpus"] = {"train": len(train), "heldout": len(held), "seconds": round(time.perf_counter() - t, 1)}
    label_texts, extra_texts = _extra_label_texts(extra_records or (), weighting, out, summary)

    # every stage embeds through the same shared encoder: keep its vectors on disk, so a rebuild or retrain
    # (the same generated corpus) embeds only what is new
    with load_encoder(encoder).persisting(settings.home / VECTOR_CACHE):
        t = _step(2, total, f"training the classifier {builder} on {len(train)} utterances"
                            + (f" + {len(extra_texts)} new records" if extra_texts else ""))
        checks = settings.data_dir / "checks"
        metrics = train_classifier(
            out / "data" / "train.jsonl", out / "classifier", builder=builder, encoder=encoder,
            eval_sets={"heldout_generated": out / "data" / "heldout.jsonl",
                       "handwritten": checks / "classify_handwritten.jsonl",
                       "work_orders": checks / "work_orders.jsonl"},
            **({"label_texts": label_texts} if label_texts else {}),
        )
        summary["classifier"] = {"metrics": metrics, "seconds": round(time.perf_counter() - t, 1)}

        from hotline.models.classifier import ComplaintClassifier

        clf = ComplaintClassifier.load(out / "classifier")
        from hotline.pipeline.classify import SCOPE_DIR
        from hotline.training.scope import fit_scope_model

        summary["scope"] = fit_scope_model([r["text"] for r in train] + extra_texts, out / "classifier" / SCOPE_DIR,
                                           data_dir=settings.data_dir, seed=seed, encoder=encoder)
        logger.info("scope model: %s", summary["scope"])
        t = _step(3, total, f"fitting the call model on whole generated calls ({call_per_code} per code)")
        from hotline.models.scope import ScopeModel
        from hotline.pipeline.assist import CALL_MODEL_DIR
        from hotline.training.call_model import fit_call_model

        summary["call_model"] = fit_call_model(clf, out / "classifier" / CALL_MODEL_DIR, seed=seed,
                                               per_code=call_per_code,
                                               scope=ScopeModel.load(out / "classifier" / SCOPE_DIR))

        t = _step(4, total, f"fitting the no-answer model and building the FAQ index with encoder {encoder}")
        from hotline.training.no_answer import fit_default_no_answer

        # the no-answer model reads the classifier's confidences, so it is fitted for this very classifier
        na_path = out / "classifier" / NO_ANSWER_FILE
        fit_default_no_answer(clf, na_path, encoder=encoder, data_dir=settings.data_dir, per_code=no_answer_per_code)
        # the published knowledge base (the store's live release; the shipped files on a first build), specs included:
        # a rebuild or retrain must not drop what supervisors published
        faqs, specs, kb_source = _published_kb(settings)
        summary["index"] = {**build_kb_index(out / "index", faqs, specs, classifier_dir=out / "classifier",
                                             encoder=load_encoder(encoder)), "kb": kb_source}

        registry.update(out.name, **summary)
        if not promote:
            logger.info("candidate build ready in %s (not promoted)", out)
            return summary
        _step(5, total, f"switching {settings.home}/current to the new build {out.name}")
        registry.promote(out.name, actor="hotline build")
        logger.info("build ready in %s", out)
        return summary


def _published_kb(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """FAQ and spec bodies of the store's live knowledge-base release (imported from the shipped files on first
    use), and where they came from."""
    from hotline.index.publish import KbPublisher

    publisher = KbPublisher(settings)
    try:
        live = publisher.live()
        release = publisher.repo.current_release()
    finally:
        publisher.close()
    if release is None or not live["faq"]:
        from hotline.core.jsonl import read_jsonl

        kb = settings.data_dir / "kb"
        return read_jsonl(kb / "faq.jsonl"), read_jsonl(kb / "specs.jsonl"), "shipped data/kb"
    return live["faq"], live["spec"], f"knowledge base release {release.id}"


def _extra_label_texts(records: Sequence[Mapping[str, Any]], weighting: Callable[[Mapping[str, Any]], int] | None,
                       out: Path, summary: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """The extra records as the classifier's ``label_texts`` (each text listed ``weighting(record)`` times: its
    weight against one generated utterance), written to ``data/new.jsonl``; ``(label_texts, distinct texts)``."""
    if not records:
        return {}, []
    from collections import Counter

    from hotline.core.artifacts import fingerprint

    label_texts: dict[str, list[str]] = {}
    copies = 0
    for r in records:
        n = weighting(r) if weighting is not None else r.get("weight", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInputError(f"a record's weight must be an integer >= 1, got {n!r} for {r.get('text')!r:.40}")
        label_texts.setdefault(str(r["label"]), []).extend([str(r["text"])] * n)
        copies += n
    write_jsonl([dict(r) for r in records], out / "data" / "new.jsonl")
    summary["new_data"] = {"records": len(records), "copies": copies,
                           "by_source": dict(Counter(str(r.get("source", "user")) for r in records)),
                           "fingerprint": fingerprint([f"{r['text']}\t{r['label']}" for r in records])}
    return label_texts, list(dict.fromkeys(str(r["text"]) for r in records))
