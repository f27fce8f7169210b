"""Measure one build on fixed check sets: the numbers the retrain gate compares.

Classification sets are ``{"text", "label"}`` JSONL (``"label": null`` for speech no code applies to): the
build's classifier gives ``accuracy``, ``macro_f1`` and per-code hits on the labelled records, and the
classification stage (with the build's scope model) gives ``abstain_rate`` (labelled records abstained) and
``out_of_scope_rejected`` (null-label records abstained). Retrieval sets are ``{"query", "relevant"}``
queries against a KB of their own (the shipped ``retrieval_kb.jsonl``): the KB is indexed with the build's
classifier (entry category profiles) and no-answer model, as ``hotline index build`` does, and the queries
are searched with the classifier's category probabilities as ``hotline eval retrieve`` does.

Example:
    >>> ev = BuildEvaluator(Settings())  # doctest: +SKIP
    >>> ev.evaluate("~/.hotline/current", ev.shipped_sets())["work_orders"]["accuracy"]  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.jsonl import iter_jsonl, read_labelled
from hotline.core.mask import masked_text
from hotline.core.settings import Settings

__all__ = ["CheckSet", "BuildEvaluator", "SHIPPED_CLASSIFY", "SHIPPED_RETRIEVAL", "RETRIEVAL_KB"]

logger = logging.getLogger(__name__)

SHIPPED_CLASSIFY = ("classify_handwritten", "work_orders", "offtopic_handwritten", "utterances_handwritten2")
SHIPPED_RETRIEVAL = ("retrieval_queries", "retrieval_unanswerable")
RETRIEVAL_KB = "retrieval_kb.jsonl"  # the independent KB the retrieval queries point into
_BATCH = 256


@dataclass(frozen=True)
class CheckSet:
    """A named check set: ``kind`` ``classify`` (texts and labels) or ``retrieval`` (queries against ``kb``)."""

    name: str
    path: Path
    kind: str = "classify"
    kb: Path | None = None


class BuildEvaluator:
    """Metrics of a build folder (``classifier/``, and ``index/`` for its encoder) on check sets.

    Args:
        settings: Hotline settings (``data_dir`` holds the shipped check sets).
        retrieval: measure the retrieval sets too (indexes the check KB once per build, a few seconds).
    """

    def __init__(self, settings: Settings, *, retrieval: bool = True) -> None:
        self.settings = settings
        self.retrieval = retrieval

    def shipped_sets(self) -> list[CheckSet]:
        """The shipped hand-written check sets under ``data/checks`` (never trained or tuned on)."""
        checks = Path(self.settings.data_dir) / "checks"
        sets = [CheckSet(n, checks / f"{n}.jsonl") for n in SHIPPED_CLASSIFY]
        if self.retrieval:
            sets += [CheckSet(n, checks / f"{n}.jsonl", "retrieval", checks / RETRIEVAL_KB) for n in SHIPPED_RETRIEVAL]
        return [s for s in sets if s.path.is_file()]

    @staticmethod
    def user_set(path: str | Path, *, name: str | None = None) -> CheckSet:
        """A user's ``--gate`` file (``{"text", "label"}`` JSONL, null labels allowed), checked now."""
        path = Path(path)
        read_labelled(path, allow_null=True)  # a bad file fails before any training starts
        return CheckSet(name or f"gate:{path.name}", path)

    def evaluate(self, build_dir: str | Path, sets: list[CheckSet]) -> dict[str, dict[str, Any]]:
        """``{set name: metrics}`` of the build at ``build_dir`` on ``sets``."""
        from hotline.pipeline.classify import ComplaintClassifierStage

        build_dir = Path(build_dir).expanduser().resolve()
        clf_dir = build_dir / "classifier"
        if not (clf_dir / "meta.json").is_file():
            raise ArtifactError(f"{clf_dir} holds no classifier (meta.json missing); the build is incomplete")
        stage = ComplaintClassifierStage(model_dir=clf_dir)
        stage.warm_up()
        out: dict[str, dict[str, Any]] = {}
        indexes: dict[Path, Any] = {}
        for s in sets:
            if s.kind == "classify":
                out[s.name] = self._classify(stage, s.path)
            elif s.kind == "retrieval":
                if s.kb not in indexes:
                    indexes[s.kb] = self._index(build_dir, stage.model, s.kb)
                out[s.name] = self._retrieve(indexes[s.kb], stage.model, s.path)
            else:
                raise InvalidInputError(f"check set kind must be 'classify' or 'retrieval', got {s.kind!r}")
            logger.info("%s on %s: %s", build_dir.name, s.name,
                        {k: round(v, 4) if isinstance(v, float) else v for k, v in out[s.name].items()
                         if k != "per_class"})
        return out

    # -- classification ---------------------------------------------------------------------------
    @staticmethod
    def _classify(stage, path: Path) -> dict[str, Any]:
        from hotline.models.evaluation import evaluate_classifier

        texts, labels = read_labelled(path, allow_null=True)
        texts = [masked_text(t) for t in texts]  # what the live pipeline classifies
        lab = [(t, y) for t, y in zip(texts, labels) if y is not None]
        off = [t for t, y in zip(texts, labels) if y is None]
        m: dict[str, Any] = {"n": len(texts), "n_labelled": len(lab), "n_out_of_scope": len(off)}
        if lab:
            lt, ly = [t for t, _ in lab], [y for _, y in lab]
            ev = evaluate_classifier(stage.model, lt, ly)
            m.update(accuracy=float(ev["accuracy"]), macro_f1=float(ev["macro_f1"]))
            per: dict[str, list[int]] = {}
            for y, p in zip(ly, ev["predictions"]):
                row = per.setdefault(y, [0, 0])
                row[0] += int(p == y)
                row[1] += 1
            m["per_class"] = per
            m["abstain_rate"] = _abstained(stage, lt)
        if off:
            m["out_of_scope_rejected"] = _abstained(stage, off)
        return m

    # -- retrieval --------------------------------------------------------------------------------
    def _index(self, build_dir: Path, clf, kb_path: Path):
        """The check KB indexed the way ``hotline index build`` indexes a KB for this build."""
        from hotline.index.faq_index import FaqIndex
        from hotline.index.kb import KnowledgeBase
        from hotline.models.encoders import load_encoder
        from hotline.training.build import NO_ANSWER_FILE

        na = build_dir / "classifier" / NO_ANSWER_FILE
        kb = KnowledgeBase.from_jsonl(kb_path)
        # the classifier's encoder spec: the one its build indexed the shipped KB with
        return FaqIndex.build(kb, load_encoder(getattr(clf, "encoder", None) or self.settings.encoder),
                              category_model=clf, no_answer_model=na if na.is_file() else None)

    @staticmethod
    def _retrieve(index, clf, path: Path) -> dict[str, Any]:
        from hotline.models.metrics import mean_ranking_metrics
        from hotline.pipeline.retrieve import category_probs_fn

        queries = []
        for n, row in iter_jsonl(path):
            q = row.get("query")
            if not isinstance(q, str) or not q.strip():
                raise InvalidInputError(f"{path}:{n}: field 'query' must be a non-empty string, got {q!r}")
            rel = row.get("relevant") or []
            queries.append((masked_text(q), {rel} if isinstance(rel, str) else set(rel)))
        probs_fn = category_probs_fn(clf, index)
        results = []
        for lo in range(0, len(queries), 64):
            batch = [q for q, _ in queries[lo : lo + 64]]
            results += index.search(batch, top_k=10, category_probs=probs_fn(batch) if probs_fn else None)
        answerable = np.array([bool(rel) for _, rel in queries])
        no_answer = np.array([r.no_answer for r in results])
        ranked = [[h.id for h in r.hits] for r in results]
        m: dict[str, Any] = {"n": len(queries), "n_answerable": int(answerable.sum()),
                             "n_unanswerable": int((~answerable).sum())}
        rank = mean_ranking_metrics([ranked[i] for i in np.flatnonzero(answerable)],
                                    [queries[i][1] for i in np.flatnonzero(answerable)], ks=(1, 5))
        m.update({k: rank[k] for k in ("recall@1", "recall@5", "mrr@10")})
        m["no_answer_accuracy"] = float(no_answer[~answerable].mean()) if (~answerable).any() else None
        m["answerable_abstain_rate"] = float(no_answer[answerable].mean()) if answerable.any() else None
        return m


def _abstained(stage, texts: list[str]) -> float:
    preds = [p for i in range(0, len(texts), _BATCH) for p in stage.run(texts[i : i + _BATCH])["predictions"]]
    return float(sum(p.abstain for p in preds) / len(preds))

