"""Data for the speed benchmark: utterance sets, the peer's training corpus, a large KB, synthetic vectors.

Everything is generated from the shipped data and :class:`hotline.training.generate.CorpusGenerator` (plus the
hand-written check utterances), so the benchmark needs nothing outside the package.

Example:
    >>> texts = prepare_texts(Settings(), n_utterances=40, http_requests=24, classify_n=256, kb_queries=20,
    ...                       kb_pool_per_code=2, segment_texts=300, seed=13)  # doctest: +SKIP
    >>> len(texts.latency)  # doctest: +SKIP
    40
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import read_jsonl
from hotline.core.settings import Settings

if TYPE_CHECKING:
    from hotline.index.kb import KnowledgeBase

__all__ = ["SpeedTexts", "prepare_texts", "peer_training_records", "synthetic_kb", "synthetic_vectors", "smoke_home"]

_N_CODES = 42  # complaint codes of the shipped taxonomy: sizes the generator's per-code count


@dataclass
class SpeedTexts:
    """Disjoint utterance sets, so no section is helped by the encoder's LRU cache filled by another."""

    latency: list[str]
    http: list[str]
    classify: list[str]
    segment: list[str]
    kb_queries: list[str]
    kb_pool: dict[str, list[str]] = field(default_factory=dict)  # code → distinct generated questions


def _handwritten(settings: Settings) -> list[str]:
    path = settings.data_dir / "checks" / "classify_handwritten.jsonl"
    return [r["text"] for r in read_jsonl(path)] if path.is_file() else []


def prepare_texts(settings: Settings, *, n_utterances: int, http_requests: int, classify_n: int, kb_queries: int,
                  kb_pool_per_code: int, segment_texts: int, seed: int) -> SpeedTexts:
    """Hand-written check utterances first, then generated ones (another seed than the training corpus).

    Sizes are those of ``SpeedConfig``; ``kb_pool_per_code`` distinct questions per code go to the large KB.
    """
    from hotline.training.generate import CorpusGenerator

    handwritten = _handwritten(settings)
    need = max(0, n_utterances - len(handwritten)) + http_requests + classify_n + kb_queries + 3 * 8
    per_code = max(kb_pool_per_code + 2, math.ceil(1.3 * need / _N_CODES) + kb_pool_per_code)
    gen = CorpusGenerator(seed=seed + 101, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    rng = random.Random(seed)
    rng.shuffle(records)
    seen = set(handwritten)
    pool: dict[str, list[str]] = {}
    rest: list[str] = []
    for r in records:
        t = r["text"]
        if t in seen:
            continue
        seen.add(t)
        bucket = pool.setdefault(r["label"], [])
        if len(bucket) < kb_pool_per_code:
            bucket.append(t)
        else:
            rest.append(t)
    latency = handwritten[:n_utterances]
    take = n_utterances - len(latency)
    latency += rest[:take]
    rest = rest[take:]
    http, rest = rest[:http_requests], rest[http_requests:]
    classify, rest = rest[:classify_n], rest[classify_n:]
    kb_texts, rest = rest[:kb_queries], rest[kb_queries:]
    if len(classify) < classify_n or len(kb_texts) < kb_queries:
        raise InvalidInputError(f"the generator gave too few distinct utterances ({len(records)}) for "
                                f"classify_n={classify_n} and kb_queries={kb_queries}; lower them")
    segment = [*latency, *http, *classify, *kb_texts][:segment_texts]
    return SpeedTexts(latency=latency, http=http, classify=classify, segment=segment, kb_queries=kb_texts,
                      kb_pool=pool)


def peer_training_records(*, seed: int, per_code: int) -> list[dict[str, Any]]:
    """The train split of the same corpus ``hotline build`` trains on (``CorpusGenerator(seed, per_code)``)."""
    from hotline.training.build import split_corpus
    from hotline.training.generate import CorpusGenerator

    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    train, _ = split_corpus(gen.run()["records"])
    return train


def synthetic_kb(settings: Settings, pool: dict[str, list[str]], n_entries: int) -> KnowledgeBase:
    """``n_entries`` FAQs: the shipped answers of a category, generated caller questions of that category."""
    from hotline.index.kb import FaqEntry, KnowledgeBase

    base = KnowledgeBase.from_jsonl(settings.data_dir / "kb" / "faq.jsonl")
    by_cat: dict[str, list[Any]] = {}
    for e in base.entries:
        if e.category:
            by_cat.setdefault(e.category, []).append(e)
    cats = sorted(c for c in by_cat if len(pool.get(c, [])) >= 1)
    if not cats:
        raise InvalidInputError("no category has both shipped FAQs and generated questions")
    entries = []
    for i in range(n_entries):
        cat = cats[i % len(cats)]
        r = i // len(cats)
        src = by_cat[cat][r % len(by_cat[cat])]
        qs = pool[cat]
        question = qs[r % len(qs)]
        similar = [s for s in (qs[(r + 1) % len(qs)], qs[(r + 2) % len(qs)]) if s != question]
        entries.append(FaqEntry(id=f"syn-{i:05d}", question=question, answer=src.answer, category=cat,
                                similar=list(dict.fromkeys(similar))))
    return KnowledgeBase(entries, source="synthetic")


def synthetic_vectors(n: int, centres: np.ndarray, rng: np.random.Generator, sigma: float = 0.8) -> np.ndarray:
    """Clustered unit vectors ``[n, dim]``: a random centre plus Gaussian noise, normalised (chunked)."""
    dim = centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        x = centres[rng.integers(0, len(centres), m)] + sigma * rng.standard_normal((m, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[lo : lo + m] = x
    return out


def smoke_home(settings: Settings, tmp: Path) -> Settings:
    """Tiny models for ``--smoke`` when nothing is built: TF-IDF classifier, 40 FAQs indexed, under ``tmp``."""
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder
    from hotline.training.generate import CorpusGenerator

    small = settings.model_copy(update={"home": tmp})
    gen = CorpusGenerator(seed=5, per_code=20)
    gen.warm_up()
    recs = gen.run()["records"]
    clf = ComplaintClassifier(builder="complaint.tfidf_lr.v1", seed=0, refit=False)
    clf.fit([r["text"] for r in recs], [r["label"] for r in recs])
    clf.save(small.classifier_dir)
    kb = KnowledgeBase.from_jsonl(settings.data_dir / "kb" / "faq.jsonl")
    kb = KnowledgeBase(kb.entries[:40], source="smoke")
    FaqIndex.build(kb, load_encoder(settings.encoder)).save(small.index_dir)
    return small
