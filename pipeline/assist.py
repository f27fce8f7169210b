"""The composed assist pipeline: one utterance in, everything the agent needs out.

validate → normalise → mask PII → classify (segmentation inside) → retrieve (boosted by the category)
→ handling spec of the top category → ticket fields (filled from the utterance where possible).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError
from hotline.core.results import AssistResult, PiiSpan, Prediction, SearchResult, TicketField
from hotline.core.settings import Settings

CALL_MODEL_DIR = "call_model"  # beside the classifier it was fitted for, like the no-answer model

__all__ = ["AssistPipeline"]

logger = logging.getLogger(__name__)


class AssistPipeline:
    """Everything loaded once; ``run`` is thread-safe and batch-in, batch-out.

    Example:
        >>> pipe = AssistPipeline(Settings())  # doctest: +SKIP
        >>> pipe.warm_up()  # doctest: +SKIP
        >>> pipe.run(["我家光猫亮红灯，宽带从昨天就连不上"])["results"][0].label  # doctest: +SKIP
        'broadband.cannot_connect'
    """

    def __init__(self, settings: Settings | None = None, *, classifier_dir: str | Path | None = None,
                 index_dir: str | Path | None = None, top_k: int | None = None) -> None:
        self.settings = settings or Settings()
        self.classifier_dir = Path(classifier_dir or self.settings.classifier_dir)
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self.top_k = top_k or self.settings.top_k
        self.call_model = None  # set by warm_up when the build has one
        self._ready = False
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------
    def warm_up(self) -> None:
        with self._lock:
            if self._ready:
                return
            import faiss

            from hotline.core.taxonomy import Taxonomy
            from hotline.index.kb import load_specs
            from hotline.pipeline.classify import ComplaintClassifierStage
            from hotline.pipeline.retrieve import FaqRetriever
            from hotline.pipeline.slots import SlotExtractor

            # one query per call: OpenMP start-up and thread contention cost more than the scan itself;
            # concurrent requests supply the parallelism
            faiss.omp_set_num_threads(1)
            for what, path in (("classifier", self.classifier_dir), ("index", self.index_dir)):
                if not (path / "meta.json").is_file():
                    raise ArtifactError(f"no {what} at {path}; run 'hotline build' (or set HOTLINE_HOME) first")
            self.taxonomy = Taxonomy.from_tsv(self.settings.data_dir / "taxonomy.tsv")
            self.classifier = ComplaintClassifierStage(model_dir=self.classifier_dir, taxonomy=self.taxonomy)
            self.classifier.warm_up()
            self.retriever = FaqRetriever(index_dir=self.index_dir, top_k=self.top_k)
            self.retriever.warm_up()
            from hotline.index.publish import specs_path

            # the specs the build carries (published with its knowledge base); older builds: the data folder's
            specs_file = specs_path(self.index_dir, self.settings.data_dir)
            self.specs = load_specs(specs_file) if specs_file.is_file() else {}
            # specs never change after loading: build their response dicts once (treat them as read-only)
            self._spec_dicts = {code: spec.to_dict() for code, spec in self.specs.items()}
            self.slots = SlotExtractor()
            # the call model, when the build made one for this classifier (``hotline build`` does)
            self.call_model = None
            cm_dir = self.classifier_dir / CALL_MODEL_DIR
            if (cm_dir / "meta.json").is_file():
                from hotline.models.call_model import CallModel

                self.call_model = CallModel.load(cm_dir)
            self._ready = True
        self.run(["预热：宽带连不上"])  # first call pays for lazy paths (jieba, BLAS)

    @property
    def ready(self) -> bool:
        return self._ready

    def describe(self) -> dict[str, Any]:
        return {
            "classifier": {"dir": str(self.classifier_dir), **_meta_summary(self.classifier.model.meta_)},
            "index": {"dir": str(self.index_dir), **self.retriever.describe()},
        }

    # -- running -----------------------------------------------------------------------------
    def classify(self, texts: list[str], *, top_k: int = 3) -> list[Prediction]:
        """Predictions per utterance; each carries the masked utterance as ``text``."""
        from hotline.core.mask import masked_text

        masked = [masked_text(t) for t in texts]
        return self.classifier.run(masked, top_k=top_k)["predictions"]

    def search(self, queries: list[str], *, top_k: int | None = None,
               category_probs: list[dict[str, float]] | None = None) -> list[SearchResult]:
        """FAQ hits per query; each result carries the masked query as ``text``."""
        from hotline.core.mask import masked_text

        masked = [masked_text(t) for t in queries]
        if category_probs is None:
            category_probs = self.category_probs(masked)
        return self.retriever.run(masked, top_k=top_k or self.top_k, category_probs=category_probs)["results"]

    def category_probs(self, masked: list[str]) -> list[dict[str, float]]:
        from hotline.pipeline.retrieve import probs_to_dicts

        return probs_to_dicts(self.classifier.probabilities(masked), self.classifier.classes)

    def run(self, texts: list[str], *, top_k: int | None = None,
            context: list[str] | None = None) -> dict[str, list[AssistResult]]:
        """Assist results for a batch of utterances (already validated by the caller).

        ``context`` (optional, one string per text) is earlier conversation used for retrieval only.
        """
        from hotline.core.mask import mask_pii
        from hotline.core.normalise import normalise_text
        from hotline.pipeline.retrieve import probs_to_dicts

        if not self._ready:
            self.warm_up()
        t0 = time.perf_counter()
        norm = [normalise_text(t) for t in texts]
        masks = [mask_pii(t) for t in norm]
        masked = [m.text for m in masks]
        t1 = time.perf_counter()
        cls = self.classifier.run(masked, top_k=3)
        preds, probs = cls["predictions"], cls["probs"]
        cat_probs = probs_to_dicts(probs, self.classifier.classes)
        t2 = time.perf_counter()
        queries = masked if context is None else [f"{c} {m}".strip() if c else m for c, m in zip(context, masked)]
        hits = self.retriever.run(queries, top_k=top_k or self.top_k, category_probs=cat_probs)["results"]
        t3 = time.perf_counter()
        results = []
        for text, m, pred, res in zip(norm, masks, preds, hits):
            spec = self.specs.get(pred.label)
            results.append(AssistResult(
                text=m.text,
                label=pred.label,
                confidence=pred.confidence,
                categories=pred.top,
                services=pred.services,
                abstain=pred.abstain,
                abstain_reason=pred.abstain_reason,
                is_complaint=pred.is_complaint,
                faqs=res.hits,
                no_answer=res.no_answer,
                spec=self._spec_dicts.get(pred.label),
                ticket_fields=[TicketField(**f) for f in self.ticket_fields(spec, [text])],
                pii=[PiiSpan(type=e.type, start=e.start, end=e.end) for e in m.entities],
            ))
        t4 = time.perf_counter()
        n = max(len(texts), 1)
        timings = {"prepare_ms": (t1 - t0) * 1000 / n, "classify_ms": (t2 - t1) * 1000 / n,
                   "retrieve_ms": (t3 - t2) * 1000 / n, "assemble_ms": (t4 - t3) * 1000 / n,
                   "total_ms": (t4 - t0) * 1000 / n}
        for r in results:
            r.timings_ms = {k: round(v, 3) for k, v in timings.items()}
        return {"results": results}

    def ticket_fields(self, spec, texts: list[str], *, reference_time=None) -> list[dict[str, Any]]:
        """The spec's ticket fields, each with the value found in ``texts`` (raw, pre-mask) or None.

        Phone values are returned masked: raw numbers never leave this function.
        """
        if spec is None:
            return []
        found: dict[str, Any] = {}
        for t in texts:
            for name, slot in self.slots.extract(t, reference_time=reference_time).items():
                if slot is not None:
                    found[name] = slot
        out = []
        for f in spec.ticket_fields:
            slot = found.get(f.name)
            value = None
            if slot is not None:
                value = slot.get("masked") or slot.get("value")
            out.append({"name": f.name, "label": f.label or f.name, "required": f.required, "value": value})
        return out


def _meta_summary(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in ("kind", "builder", "encoder", "created_at", "n_train", "data_fingerprint")}
