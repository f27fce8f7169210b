"""FAQ retrieval stage: utterances in, ranked FAQ hits plus a calibrated no-answer decision out.

Example:
    >>> r = FaqRetriever(index_dir="~/.hotline/index")  # doctest: +SKIP
    >>> r.warm_up()  # doctest: +SKIP
    >>> r.run(["光猫一直亮红灯"])["results"][0].no_answer  # doctest: +SKIP
    False
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.core.errors import InvalidInputError
from hotline.core.results import SearchResult

if TYPE_CHECKING:
    from hotline.index.faq_index import FaqIndex
    from hotline.models.encoders import Encoder

__all__ = ["FaqRetriever", "probs_to_dicts", "category_probs_fn"]

logger = logging.getLogger(__name__)


class FaqRetriever:
    """Search the hybrid FAQ index built by ``hotline index build``.

    Args:
        index_dir: the ``FaqIndex`` folder (``Settings.index_dir``).
        encoder: an encoder instance; ``None`` loads the one recorded in the index (another one is refused).
        top_k: hits per utterance.
    """

    def __init__(self, *, index_dir: str | Path, encoder: Encoder | None = None, top_k: int = 5) -> None:
        if not isinstance(top_k, int) or top_k <= 0:
            raise InvalidInputError(f"top_k must be a positive int, got {top_k!r}")
        self.index_dir = Path(index_dir).expanduser()
        self.encoder = encoder
        self.top_k = top_k
        self.index_: FaqIndex | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the index and its encoder (idempotent)."""
        with self._lock:
            if self.index_ is not None:
                return
            from hotline.index.faq_index import FaqIndex

            index = FaqIndex.load(self.index_dir, encoder=self.encoder)
            index.encoder.warm_up()
            index.search(["预热"], top_k=1)  # first call pays for jieba and BLAS set-up
            self.index_ = index

    def run(self, texts: list[str], *, top_k: int | None = None,
            category_probs: list[dict[str, float]] | None = None) -> dict[str, list[SearchResult]]:
        """Search each text. ``category_probs`` (one ``{code: prob}`` per text) boosts same-category FAQs.

        Returns:
            ``{"results": [SearchResult]}``, one per text (``text`` is the query as given)
        """
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a list of strings, got one str; wrap it: [text]")
        k = self.top_k if top_k is None else top_k
        if not isinstance(k, int) or k <= 0:
            raise InvalidInputError(f"top_k must be a positive int, got {k!r}")
        if self.index_ is None:
            self.warm_up()
        assert self.index_ is not None
        return {"results": self.index_.search(list(texts), top_k=k, category_probs=category_probs)}

    def describe(self) -> dict[str, Any]:
        meta = {} if self.index_ is None else self.index_.meta
        return {"index_dir": str(self.index_dir), "top_k": self.top_k, "n_entries": meta.get("n_entries"),
                "encoder": meta.get("encoder"), "threshold": meta.get("threshold")}


def probs_to_dicts(probs, classes: list[str], *, min_prob: float = 0.01) -> list[dict[str, float]]:
    """``[n, n_classes]`` probabilities → one ``{code: prob}`` per row, dropping the negligible ones."""
    return [{c: float(p) for c, p in zip(classes, row) if p >= min_prob} for row in probs]


def category_probs_fn(classifier, index):
    """Query category probabilities for ``index`` from ``classifier``, or None when they cannot help.

    They help when the index carries entry category profiles over the classifier's classes, or (older
    indexes) when the KB's categories are among its labels.
    """
    if classifier is None:
        return None
    classes = list(classifier.classes_)
    profiled = getattr(index, "category_classes_", None) is not None
    if profiled and classes != list(index.category_classes_):
        logger.warning("the index's category profiles use other classes than the classifier; rebuild the index")
        return None
    if not profiled and not {e.category for e in index.kb.entries if e.category} & set(classes):
        return None

    def fn(texts: list[str]) -> list[dict[str, float]]:
        return probs_to_dicts(classifier.predict_proba(texts), classes)

    return fn
