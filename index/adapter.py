"""A linear retrieval adapter: one learned map of the encoder's space in which FAQ matching is sharper.

The sentence encoder is general-purpose: in its space "宽带断网" and "宽带网速慢" are close, because both are about
broadband, while a caller's "家里网一直掉线" and the FAQ's "宽带频繁断线怎么办" are not as close as they should
be. The adapter is a ``dim × dim`` matrix ``W``; the index scores ``cos(q·W, r·W)`` for a query vector ``q``
and each row vector ``r`` (questions, similar questions, answers), so the classifier keeps the raw vectors and
one query costs one more small matrix–vector product (~0.05 ms at 512 dimensions).

``W`` is learned (:func:`hotline.training.adapter.fit_adapter`, torch) from a KB's own paraphrases (each similar question → its entry, scored as the index scores an
entry without similar rows: question cosine blended with the answer cosine, softmax over the KB's entries),
starting at the identity with an L2 pull back to it (``strength``), so it sharpens the directions that tell
FAQs apart rather than memorising entries. On leave-codes-out splits of the shipped KB (the adapter fitted on
some codes' paraphrases, scored on the others' against entries it never saw) it lifted encoder-only recall@1
from 0.63 to 0.69; ``strength`` 0.1 was the best of 0.001–1 there.

The adapter is bound to the no-answer model fitted with it (``hotline build`` fits both, see
:mod:`hotline.training.no_answer`): the model's cosine features are read in the adapted space, so an index uses
the adapter its no-answer model names, saved in the index folder (``adapter/``).

Example:
    >>> import numpy as np
    >>> a = RetrievalAdapter(np.eye(4, dtype=np.float32), encoder="fake")
    >>> a.apply(np.array([[3.0, 4.0, 0.0, 0.0]], dtype=np.float32)).round(2).tolist()
    [[0.6, 0.8, 0.0, 0.0]]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import fingerprint, read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.vectors import l2_normalise

__all__ = ["RetrievalAdapter", "ADAPTER_DIR"]

logger = logging.getLogger(__name__)

KIND = "retrieval_adapter"
NAME = "adapter.linear_paraphrase.v1"  # the fitting recipe, hotline.training.adapter
ADAPTER_DIR = "adapter"  # the folder's name inside an index, and beside a no-answer model file
_FILE = "adapter.npz"
_REFIT = "refit it with 'hotline index calibrate' (or 'hotline build')"


class RetrievalAdapter:
    """``W`` ``[dim, dim]`` for one encoder; :meth:`apply` maps vectors and L2-normalises them.

    Args:
        weight: The matrix (float32).
        encoder: The encoder's name; an index of another encoder refuses the adapter.
        info: What it was fitted on (pairs, codes, strength, steps, seconds, data fingerprint).
    """

    def __init__(self, weight: np.ndarray, *, encoder: str, info: dict[str, Any] | None = None) -> None:
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
            raise InvalidInputError(f"an adapter weight must be square [dim, dim], got shape {weight.shape}")
        self.weight = weight
        self.encoder = str(encoder)
        self.info = dict(info or {})

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    @property
    def identity(self) -> str:
        """A fingerprint of the weights: what a no-answer model and an index record to match each other."""
        return fingerprint([self.encoder, self.weight.tobytes().hex()])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``l2(x · W)`` ``[n, dim]`` float32."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidInputError(f"the adapter maps {self.dim}-d vectors, got shape {x.shape}; "
                                    "was the index built with another encoder?")
        return l2_normalise(x @ self.weight)

    def describe(self) -> dict[str, Any]:
        return {"name": NAME, "encoder": self.encoder, "dim": self.dim, "identity": self.identity,
                **{k: v for k, v in self.info.items() if k in ("pairs", "entries", "codes", "strength", "steps")}}

    # -- persistence --------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / _FILE, weight=self.weight)
        write_meta(directory, kind=KIND, name=NAME, encoder=self.encoder, dim=self.dim, identity=self.identity,
                   info=self.info)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RetrievalAdapter:
        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        if not (directory / _FILE).is_file():
            raise ArtifactError(f"{directory} lacks {_FILE}; {_REFIT}")
        adapter = cls(np.load(directory / _FILE)["weight"], encoder=str(meta.get("encoder")), info=meta.get("info"))
        if meta.get("identity") not in (None, adapter.identity):
            raise ArtifactError(f"{directory / _FILE} does not hold the weights its meta.json names; {_REFIT}")
        return adapter
