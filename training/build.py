"""``hotline build``: generate the corpus, train the default classifier, build the FAQ index.

Artefacts are written into a fresh versioned folder ``<home>/builds/<timestamp>/`` and then the
``<home>/classifier`` and ``<home>/index`` links are switched atomically, so a running server keeps
serving the old models until it reloads (``POST /v1/admin/reload``) — no downtime.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hotline.core.jsonl import write_jsonl
from hotline.core.settings import Settings

__all__ = ["build_default", "is_built", "switch_link", "split_corpus", "NO_ANSWER_FILE"]

NO_ANSWER_FILE = "no_answer_model.json"  # beside the classifier it was fitted for

logger = logging.getLogger(__name__)


def is_built(settings: Settings) -> bool:
    return (settings.classifier_dir / "meta.json").is_file() and (settings.index_dir / "meta.json").is_file()


def switch_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (rename of a fresh symlink over the old one)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} is a real folder, not a link Hotline manages; move it away and rebuild")
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


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
                  builder: str = "complaint.ensemble.v1", call_per_code: int = 60) -> dict[str, Any]:
    """Build the shipped telecom demo: corpus → classifier → call model → FAQ index. Returns a summary with metrics.

    ``call_per_code``: generated whole calls per code for the call model.
    """
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.encoders import load_encoder
    from hotline.training.generate import CorpusGenerator
    from hotline.training.train import train_classifier

    encoder = encoder or settings.encoder
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    out = settings.home / "builds" / stamp
    out.mkdir(parents=True, exist_ok=True)
    total = 5
    summary: dict[str, Any] = {"build": str(out), "encoder": encoder}

    t = _step(1, total, f"generating the training corpus ({per_code} per code, seed {seed})")
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    train, held = split_corpus(records)
    write_jsonl(train, out / "data" / "train.jsonl")
    write_jsonl(held, out / "data" / "heldout.jsonl")
    summary["corpus"] = {"train": len(train), "heldout": len(held), "seconds": round(time.perf_counter() - t, 1)}

    t = _step(2, total, f"training the classifier {builder} on {len(train)} utterances")
    checks = settings.data_dir / "checks"
    metrics = train_classifier(
        out / "data" / "train.jsonl", out / "classifier", builder=builder, encoder=encoder,
        eval_sets={"heldout_generated": out / "data" / "heldout.jsonl",
                   "handwritten": checks / "classify_handwritten.jsonl",
                   "work_orders": checks / "work_orders.jsonl"},
    )
    summary["classifier"] = {"metrics": metrics, "seconds": round(time.perf_counter() - t, 1)}

    from hotline.models.classifier import ComplaintClassifier

    clf = ComplaintClassifier.load(out / "classifier")
    from hotline.pipeline.classify import SCOPE_DIR
    from hotline.training.scope import fit_scope_model

    summary["scope"] = fit_scope_model([r["text"] for r in train], out / "classifier" / SCOPE_DIR,
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
    na = fit_default_no_answer(clf, na_path, encoder=encoder, data_dir=settings.data_dir)
    kb = KnowledgeBase.from_jsonl(settings.data_dir / "kb" / "faq.jsonl")
    # entry category profiles from the new classifier: retrieval fuses query-entry category affinity
    index = FaqIndex.build(kb, load_encoder(encoder), category_model=clf, no_answer_model=na)
    index.save(out / "index")
    summary["index"] = {"entries": len(kb), "seconds": round(time.perf_counter() - t, 1)}

    _step(5, total, f"switching {settings.home}/classifier and /index to the new build")
    (out / "build.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    switch_link(settings.classifier_dir, out / "classifier")
    switch_link(settings.index_dir, out / "index")
    logger.info("build ready in %s", out)
    return summary
