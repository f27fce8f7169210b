"""Row-wise L2 normalisation of sentence vectors: one definition for encoders, the vector index and the adapter.

Example:
    >>> l2_normalise(np.array([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
"""

from __future__ import annotations

import numpy as np

__all__ = ["l2_normalise"]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """``x`` as C-contiguous float32 ``[n, dim]`` rows of unit length (one 1-D vector becomes one row); an all-zero
    row stays zero (its norm is floored at 1e-12)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(n, 1e-12))
