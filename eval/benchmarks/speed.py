"""Speed benchmark beside a naive peer pipeline: ``hotline bench speed [--json] [--smoke]``.

Everything is measured in ONE process run, Hotline and the peer side by side over the same data, so the
figures that matter are the ratios (the machine may be shared and noisy; absolute numbers drift).

The naive peer (:mod:`hotline.eval.benchmarks.peer`) is trained on the same generated corpus as ``hotline build``
(``CorpusGenerator(seed=13, per_code=...)``, same train split) and searches the same FAQ knowledge base with
``rank_bm25``. The data comes from :mod:`hotline.eval.benchmarks.speed_data`; the HTTP rows run against
:func:`hotline.eval.benchmarks.server.server_process`; the tables are :func:`hotline.eval.benchmarks.render.render_speed`.

Rows:

* assist latency p50/p99 in process: ``AssistPipeline.run([text])`` one utterance at a time vs the peer's
  segment + classify + BM25 top-5, alternating in blocks of 10 utterances so both see the same machine noise;
* assist latency over HTTP: the API under uvicorn in a child process, one client, then concurrent httpx clients;
* classification throughput (batch 256) and segmentation MB/s (``JiebaSegmenter`` on its default backend,
  ``jieba_fast_dat``, vs ``jieba.lcut``; the same segmenter on the reference jieba and ``rjieba`` for reference);
* vector index build time, query latency, recall@10 against exact search and memory at 10k/100k/1M
  synthetic clustered 512-d vectors (exact ``IndexFlatIP`` vs approximate: Hotline's HNSW, or faiss IVF-Flat
  where an HNSW build would take too long), beside a numpy brute-force peer;
* assist latency with a 10k-entry knowledge base (shipped FAQ answers × generated questions).

Example:
    >>> from hotline.eval.benchmarks.render import render_speed
    >>> result = run_speed_benchmark(Settings(), config=SpeedConfig.smoke())  # doctest: +SKIP
    >>> print(render_speed(result))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.peer import NaivePeer
from hotline.eval.benchmarks.render import render_speed
from hotline.eval.benchmarks.server import server_process
from hotline.eval.benchmarks.speed_data import (
    SpeedTexts,
    peer_training_records,
    prepare_texts,
    smoke_home,
    synthetic_kb,
    synthetic_vectors,
)
from hotline.eval.benchmarks.targets import speed_targets
from hotline.models.encoders import Encoder

__all__ = ["SpeedConfig", "run_speed_benchmark", "main"]

logger = logging.getLogger(__name__)


@dataclass
class SpeedConfig:
    """Sizes of the benchmark. ``SpeedConfig.smoke()`` finishes in well under a minute (CI).

    Args:
        n_utterances: utterances timed one by one in process (hand-written checks first, then generated).
        per_code: records per code of the peer's training corpus (``hotline build`` uses 400).
        classify_n: utterances for the classification-throughput row.
        classify_batch: batch size of that row.
        segment_texts: utterances segmented for the MB/s row (each segmenter, best of ``segment_rounds``).
        http_requests / http_clients: requests sent over HTTP and concurrent clients sending them.
        index_sizes: vector counts of the index rows (512-d synthetic vectors).
        index_queries: queries timed one by one per index size (halved from 1M vectors).
        hnsw_max: largest size built as HNSW; above it (or when the projected HNSW build exceeds
            ``build_cap_s``) the approximate index is faiss IVF-Flat.
        kb_entries: entries of the synthetic large knowledge base.
        kb_pool_per_code: distinct generated questions per code the large KB recombines.
        kb_queries: utterances timed against the large KB.
        profile: cProfile the assist path over a few utterances and report where time goes.
        seed: seed of the peer's training corpus (same as ``hotline build``).
    """

    n_utterances: int = 300
    per_code: int = 400
    classify_n: int = 2048
    classify_batch: int = 256
    segment_texts: int = 3000
    segment_rounds: int = 3
    http_requests: int = 300
    http_clients: int = 8
    index_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    index_queries: int = 200
    hnsw_max: int = 100_000
    build_cap_s: float = 240.0
    kb_entries: int = 10_000
    kb_pool_per_code: int = 24
    kb_queries: int = 200
    profile: bool = True
    seed: int = 13
    smoke_mode: bool = False

    @classmethod
    def smoke(cls) -> SpeedConfig:
        return cls(n_utterances=40, per_code=20, classify_n=256, segment_texts=300, segment_rounds=2,
                   http_requests=24, http_clients=4, index_sizes=(1_000,), index_queries=30, kb_entries=300,
                   kb_pool_per_code=2, kb_queries=20, profile=False, smoke_mode=True)


# ------------------------------------------------------------------------------------------------
# statistics helpers
def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def _lat_summary(ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": _pct(ms, 50), "p90_ms": _pct(ms, 90), "p99_ms": _pct(ms, 99),
            "mean_ms": float(np.mean(ms)) if len(ms) else float("nan"), "n": len(ms)}


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or not den or not math.isfinite(num) or not math.isfinite(den):
        return None
    return float(num / den)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _load_avg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return None


# ------------------------------------------------------------------------------------------------
# sections
def _assist_latency(pipe: Any, peer: NaivePeer, texts: list[str], block: int = 10) -> dict[str, Any]:
    """One-by-one latency of Hotline's assist and the peer over the same utterances.

    The two alternate in blocks of ``block`` utterances, so both see the same machine noise while neither
    runs right after the other has flushed the CPU caches (the peer's BM25 over a 10k-entry KB walks
    ~60 ms of memory per query; one-for-one interleaving would charge that to Hotline's next call).
    """
    h_ms, p_ms = [], []
    stages: dict[str, list[float]] = {}
    for lo in range(0, len(texts), block):
        chunk = texts[lo : lo + block]
        for t in chunk:
            t0 = time.perf_counter()
            res = pipe.run([t])["results"][0]
            h_ms.append((time.perf_counter() - t0) * 1000)
            for k, v in res.timings_ms.items():
                stages.setdefault(k, []).append(v)
        for t in chunk:
            t1 = time.perf_counter()
            peer.assist(t)
            p_ms.append((time.perf_counter() - t1) * 1000)
    return {"hotline": _lat_summary(h_ms), "peer": _lat_summary(p_ms), "block": block,
            "stages_p50_ms": {k: round(_pct(v, 50), 3) for k, v in stages.items()}}


def _classify_throughput(clf: Any, peer: NaivePeer, texts: list[str], batch: int) -> dict[str, Any]:
    def rate(fn: Callable[[list[str]], Any]) -> float:
        t0 = time.perf_counter()
        for lo in range(0, len(texts), batch):
            fn(texts[lo : lo + batch])
        return len(texts) / (time.perf_counter() - t0)

    fn_h = clf.predict_proba
    # peer first on a small slice so both start warm; the timed runs see fresh texts (no encoder cache hits)
    peer.classify(texts[:8])
    return {"hotline_per_s": rate(fn_h), "peer_per_s": rate(peer.classify), "n": len(texts), "batch": batch}


def _segment_speed(texts: list[str], rounds: int) -> dict[str, Any]:
    import jieba

    from hotline.core.segment import JiebaSegmenter

    seg = JiebaSegmenter()  # the default backend (jieba_fast_dat when installed)
    seg.warm_up()
    ref = JiebaSegmenter(backend="jieba")  # the same segmenter on the reference pure-Python jieba
    ref.warm_up()
    jieba.initialize()
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    fns: dict[str, Callable[[str], Any]] = {
        "hotline_cut": seg.cut,
        "hotline_tokens": seg.tokens,
        "hotline_cut_reference_jieba": ref.cut,
        "jieba_lcut": jieba.lcut,
    }
    try:
        import rjieba

        fns["rjieba"] = rjieba.cut
    except ImportError:
        pass
    best: dict[str, float] = {}
    for _ in range(rounds):  # interleaved rounds, best of each: the least disturbed run
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for t in texts:
                fn(t)
            best[name] = max(best.get(name, 0.0), mb / (time.perf_counter() - t0))
    return {"mb": mb, "n_texts": len(texts), "mb_per_s": best, "backend": seg.backend}



def _http_latency(settings: Settings, texts: list[str], clients: int, *, ready_timeout_s: float = 240.0) -> dict[str, Any]:
    """``POST /v1/assist``, one utterance per request: a third of ``texts`` from one client, the rest from
    ``clients`` concurrent clients, against one uvicorn server in a child process."""
    import httpx

    with server_process(settings, startup_timeout_s=ready_timeout_s) as server:
        with httpx.Client(base_url=server.url, timeout=60.0) as c:
            for w in ("预热一下：宽带连不上", "预热：手机没信号"):
                c.post("/v1/assist", json={"texts": [w]})
        # one client first (the latency an agent sees on a quiet server), then ``clients`` at once (under load);
        # each pass gets its own texts so the encoder's cache does not flatter the second
        n_single = len(texts) // 3 if clients > 1 else 0
        single = _http_pass(server.url, texts[:n_single], 1) if n_single else None
        loaded = _http_pass(server.url, texts[n_single:], clients)
    return {**loaded, "single_client": single, "server_startup_s": round(server.startup_s, 2)}


def _http_pass(base: str, texts: list[str], clients: int) -> dict[str, Any]:
    """``POST /v1/assist`` for each text from ``clients`` concurrent httpx clients (closed loop)."""
    import httpx

    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    it = iter(texts)

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, timeout=60.0) as c:
            while True:
                with lock:
                    t = next(it, None)
                if t is None:
                    return
                s = time.perf_counter()
                try:
                    ok = c.post("/v1/assist", json={"texts": [t]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                ms = (time.perf_counter() - s) * 1000
                with lock:
                    if ok:
                        lat.append(ms)
                    else:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    w0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - w0
    return {**_lat_summary(lat), "clients": clients, "requests": len(texts), "errors": errors,
            "req_per_s": len(lat) / wall if wall > 0 else None}


# -- vector index ---------------------------------------------------------------------------
def _one_by_one(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> list[float]:
    ms = []
    for i in range(len(queries)):
        t0 = time.perf_counter()
        search(queries[i : i + 1])
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def _recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray, k: int = 10) -> float:
    hits = [len(set(a[:k].tolist()) & set(e[:k].tolist())) / k for a, e in zip(approx_ids, exact_ids)]
    return float(np.mean(hits))


def _index_rows(cfg: SpeedConfig, dim: int = 512) -> list[dict[str, Any]]:
    import faiss

    from hotline.index.vector import VectorIndex

    rng = np.random.default_rng(cfg.seed)
    centres = rng.standard_normal((1000, dim), dtype=np.float32)
    rows = []
    for n in cfg.index_sizes:
        nq = cfg.index_queries if n < 1_000_000 else max(10, cfg.index_queries // 2)
        logger.info("index rows: %d vectors, %d queries", n, nq)
        x = synthetic_vectors(n, centres, rng)
        q = synthetic_vectors(nq, centres, rng)
        row: dict[str, Any] = {"n": n, "dim": dim, "queries": nq, "data": "synthetic clustered unit vectors"}

        # exact: faiss flat (what Hotline's VectorIndex uses below 50k rows)
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        flat = faiss.IndexFlatIP(dim)
        flat.add(x)
        row["exact"] = {"kind": "faiss IndexFlatIP", "build_s": time.perf_counter() - t0,
                        "memory_mb": _rss_mb() - rss0,
                        **_lat_summary(_one_by_one(lambda v, f=flat: f.search(v, 10), q))}
        _, exact_ids = flat.search(q, 10)
        flat = None  # free the copy before the approximate index is built

        # peer: numpy brute force, one query at a time
        def brute(v: np.ndarray, x: np.ndarray = x) -> np.ndarray:
            s = x @ v[0]
            top = np.argpartition(-s, 9)[:10]
            return top[np.argsort(-s[top])]

        row["peer"] = {"kind": "numpy x @ q + argpartition", **_lat_summary(_one_by_one(brute, q))}

        # approximate
        row["approx"] = _approx_index(cfg, x, q, exact_ids, faiss, VectorIndex)
        row["peak_rss_mb"] = _peak_rss_mb()
        rows.append(row)
        x = q = None  # type: ignore[assignment]
    return rows


def _approx_index(cfg: SpeedConfig, x: np.ndarray, q: np.ndarray, exact_ids: np.ndarray, faiss: Any,
                  vector_index_cls: Any) -> dict[str, Any]:
    n, dim = x.shape
    note = ""
    if n <= cfg.hnsw_max:
        vi = vector_index_cls(dim=dim, encoder_name="synthetic", index_type="hnsw")  # M=32, efC=80, efS=64
        rss0 = _rss_mb()
        chunk = min(n, 10_000)
        t0 = time.perf_counter()
        vi.add(x[:chunk])
        first = time.perf_counter() - t0
        projected = first * (n / chunk) * 1.3  # HNSW insertion slows a little as the graph grows
        if projected <= cfg.build_cap_s:
            for lo in range(chunk, n, chunk):
                vi.add(x[lo : lo + chunk])
            build_s = time.perf_counter() - t0
            mem = _rss_mb() - rss0
            lat = _one_by_one(lambda v, index=vi: index.search(v, 10), q)
            _, ids = vi.search(q, 10)
            d = vi.describe()
            return {"kind": f"Hotline VectorIndex hnsw (M={d['hnsw_m']}, efC={d['ef_construction']}, "
                            f"efS={d['ef_search']})", "build_s": build_s, "memory_mb": mem,
                    "recall@10": _recall_at_k(ids, exact_ids), **_lat_summary(lat)}
        note = (f"HNSW build projected at {projected:.0f} s (> cap {cfg.build_cap_s:.0f} s) from the first "
                f"{chunk} vectors; IVF instead")
        del vi
    nlist = 1024 if n >= 500_000 else max(16, int(4 * math.sqrt(n)))
    nprobe = min(nlist, 32)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 10
    ivf.cp.max_points_per_centroid = 64  # train on ≤ 64·nlist sampled vectors
    ivf.train(x)
    ivf.add(x)
    build_s = time.perf_counter() - t0
    ivf.nprobe = nprobe
    mem = _rss_mb() - rss0
    lat = _one_by_one(lambda v, index=ivf: index.search(v, 10), q)
    _, ids = ivf.search(q, 10)
    out = {"kind": f"faiss IVFFlat (nlist={nlist}, nprobe={nprobe}, 10 k-means iterations)", "build_s": build_s,
           "memory_mb": mem, "recall@10": _recall_at_k(ids, exact_ids), **_lat_summary(lat)}
    if note:
        out["note"] = note
    return out


# -- large knowledge base ------------------------------------------------------------------
class _MemoEncoder(Encoder):
    """Wraps an encoder so repeated texts (the large synthetic KB reuses them) are embedded once."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(cache_size=0)
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.normalized = inner.normalized
        self._memo: dict[tuple[bool, str], np.ndarray] = {}

    def warm_up(self) -> None:
        self.inner.warm_up()
        self.dim = self.inner.dim

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if (is_query, t) not in self._memo]
        if todo:
            vecs = self.inner.encode_queries(todo) if is_query else self.inner.encode_corpus(todo)
            for t, v in zip(todo, vecs):
                self._memo[(is_query, t)] = v
        return np.stack([self._memo[(is_query, t)] for t in texts])




def _large_kb_latency(cfg: SpeedConfig, settings: Settings, texts: SpeedTexts, peer_clf: NaivePeer) -> dict[str, Any]:
    from hotline.index.faq_index import FaqIndex
    from hotline.models.encoders import load_encoder
    from hotline.pipeline.assist import AssistPipeline

    kb = synthetic_kb(settings, texts.kb_pool, cfg.kb_entries)
    index_meta = json.loads((settings.index_dir / "meta.json").read_text(encoding="utf-8"))
    enc_name = str((index_meta.get("encoder") or {}).get("name") or settings.encoder)
    t0 = time.perf_counter()
    index = FaqIndex.build(kb, _MemoEncoder(load_encoder(enc_name)))
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="hotline-kb10k-") as tmp:
        index.save(tmp)
        n_rows = int(index.meta.get("n_rows", 0))
        del index
        pipe = AssistPipeline(settings, index_dir=tmp)
        pipe.warm_up()
        peer = peer_clf.with_knowledge_base(kb.entries)
        res = _assist_latency(pipe, peer, texts.kb_queries)
        del pipe
    return {"entries": len(kb), "rows": n_rows, "build_s": build_s, **res}


# -- profile --------------------------------------------------------------------------------
def _profile_assist(pipe: Any, texts: list[str], top: int = 12) -> list[dict[str, Any]]:
    """Functions with the most own time over ``texts`` (cProfile, one utterance per call)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for t in texts:
        pipe.run([t])
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    out = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in rows:
        short = "/".join(Path(file).parts[-2:]) if file != "~" else "builtin"
        out.append({"function": f"{short}:{line}({func})", "calls": nc, "own_ms_per_utt": 1000 * tt / len(texts),
                    "cum_ms_per_utt": 1000 * ct / len(texts), "own_share": tt / total})
    return out


def run_speed_benchmark(settings: Settings, *, config: SpeedConfig | None = None,
                        sections: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and return the result dict (see the module docstring for the rows).

    Args:
        settings: where the built models live (``settings.classifier_dir`` / ``index_dir``).
        config: sizes; default full sizes, ``SpeedConfig.smoke()`` for CI.
        sections: subset of ``("assist", "http", "classify", "segment", "index", "kb")``; default all.

    Raises:
        ArtifactError: when no models are built in ``settings.home``.
    """
    cfg = config or SpeedConfig()
    all_sections = ("assist", "http", "classify", "segment", "index", "kb")
    sections = tuple(sections or all_sections)
    bad = [s for s in sections if s not in all_sections]
    if bad:
        raise InvalidInputError(f"sections must be a subset of {list(all_sections)}, got {bad}")
    from hotline.training.build import is_built

    if not is_built(settings):
        raise ArtifactError(f"no models in {settings.home}; run 'hotline build' (or set HOTLINE_HOME) first")
    from hotline.pipeline.assist import AssistPipeline

    t_start = time.perf_counter()
    load_start = _load_avg()
    result: dict[str, Any] = {"peer": {}, "ratios": {}}
    logger.info("speed: preparing texts and the naive peer")
    texts = prepare_texts(settings, n_utterances=cfg.n_utterances, http_requests=cfg.http_requests,
                          classify_n=cfg.classify_n, kb_queries=cfg.kb_queries,
                          kb_pool_per_code=cfg.kb_pool_per_code, segment_texts=cfg.segment_texts, seed=cfg.seed)
    train = peer_training_records(seed=cfg.seed, per_code=cfg.per_code)
    peer = NaivePeer()
    peer.warm_up()
    peer_fit_s = peer.fit_classifier([r["text"] for r in train], [r["label"] for r in train])
    from hotline.index.kb import KnowledgeBase

    kb = KnowledgeBase.from_jsonl(settings.index_dir / "kb.jsonl")
    peer.fit_bm25(kb.entries)

    pipe = AssistPipeline(settings)
    t0 = time.perf_counter()
    pipe.warm_up()
    warm_s = time.perf_counter() - t0
    for t in texts.latency[:3]:  # both sides warm (lazy paths, BLAS) on a few texts not timed below twice
        peer.assist(t)
    meta = pipe.describe()

    if "assist" in sections:
        logger.info("speed: assist latency, %d utterances one by one", len(texts.latency))
        a = _assist_latency(pipe, peer, texts.latency)
        result.update(assist_p50_ms=a["hotline"]["p50_ms"], assist_p99_ms=a["hotline"]["p99_ms"],
                      assist=a["hotline"], stages_p50_ms=a["stages_p50_ms"])
        result["peer"].update(assist_p50_ms=a["peer"]["p50_ms"], assist_p99_ms=a["peer"]["p99_ms"],
                              assist=a["peer"])
        result["ratios"]["assist_p50"] = _ratio(a["peer"]["p50_ms"], a["hotline"]["p50_ms"])
        result["ratios"]["assist_p99"] = _ratio(a["peer"]["p99_ms"], a["hotline"]["p99_ms"])
        result["n_kb_entries"] = len(kb)
    if cfg.profile:
        logger.info("speed: profiling the assist path")
        result["profile"] = _profile_assist(pipe, texts.http[: min(40, len(texts.http))])
    if "classify" in sections:
        logger.info("speed: classification throughput, %d utterances, batch %d", len(texts.classify), cfg.classify_batch)
        c = _classify_throughput(pipe.classifier.model, peer, texts.classify, cfg.classify_batch)
        result["classify_per_s"] = c["hotline_per_s"]
        result["peer"]["classify_per_s"] = c["peer_per_s"]
        result["ratios"]["classify"] = _ratio(c["hotline_per_s"], c["peer_per_s"])
        result["classify"] = c
    if "segment" in sections:
        logger.info("speed: segmentation, %d utterances", len(texts.segment))
        s = _segment_speed(texts.segment, cfg.segment_rounds)
        result["segment_mb_per_s"] = s["mb_per_s"]["hotline_cut"]
        result["segment_tokens_mb_per_s"] = s["mb_per_s"]["hotline_tokens"]
        result["peer"]["segment_mb_per_s"] = s["mb_per_s"]["jieba_lcut"]
        result["segment_reference_jieba_mb_per_s"] = s["mb_per_s"]["hotline_cut_reference_jieba"]
        result["segment_backend"] = s["backend"]
        if "rjieba" in s["mb_per_s"]:
            result["rjieba_mb_per_s"] = s["mb_per_s"]["rjieba"]
        result["ratios"]["segment"] = _ratio(s["mb_per_s"]["hotline_cut"], s["mb_per_s"]["jieba_lcut"])
        result["segment"] = s
    del pipe
    if "kb" in sections:
        logger.info("speed: assist with a %d-entry knowledge base", cfg.kb_entries)
        k = _large_kb_latency(cfg, settings, texts, peer)
        result["kb"] = k
        result["assist_kb_p50_ms"] = k["hotline"]["p50_ms"]
        result["assist_kb_p99_ms"] = k["hotline"]["p99_ms"]
        result["peer"]["assist_kb_p50_ms"] = k["peer"]["p50_ms"]
        result["peer"]["assist_kb_p99_ms"] = k["peer"]["p99_ms"]
        result["ratios"]["assist_kb_p50"] = _ratio(k["peer"]["p50_ms"], k["hotline"]["p50_ms"])
        result["ratios"]["assist_kb_p99"] = _ratio(k["peer"]["p99_ms"], k["hotline"]["p99_ms"])
    if "http" in sections:
        logger.info("speed: HTTP, %d requests from %d clients", len(texts.http), cfg.http_clients)
        result["http"] = _http_latency(settings, texts.http, cfg.http_clients)
    if "index" in sections:
        rows = _index_rows(cfg)
        result["index"] = rows
        for r in rows:
            result["ratios"][f"index_{r['n']}_exact"] = _ratio(r["peer"]["p50_ms"], r["exact"]["p50_ms"])
            result["ratios"][f"index_{r['n']}_approx"] = _ratio(r["peer"]["p50_ms"], r["approx"]["p50_ms"])
    result["targets"] = speed_targets(result)
    result["env"] = {
        "smoke": cfg.smoke_mode, "cpu_count": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": _load_avg(),
        "python": sys.version.split()[0], "classifier": meta["classifier"].get("builder"),
        "encoder": (meta["index"].get("encoder") or {}).get("name") if isinstance(meta["index"].get("encoder"), dict)
        else meta["index"].get("encoder"),
        "peer_train_n": len(train), "peer_fit_s": round(peer_fit_s, 2), "hotline_warm_up_s": round(warm_s, 2),
        "config": asdict(cfg), "peak_rss_mb": _peak_rss_mb(),
    }
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    return result


def main(args: Any, settings: Settings) -> int:
    """``hotline bench speed``: print the markdown table; with ``--json`` also one JSON line, last."""
    from hotline.training.build import is_built

    smoke = bool(getattr(args, "smoke", False))
    cfg = SpeedConfig.smoke() if smoke else SpeedConfig()
    with tempfile.TemporaryDirectory(prefix="hotline-speed-") as tmp:
        if not is_built(settings):
            if not smoke:
                raise ArtifactError(f"no models in {settings.home}; run 'hotline build' first (or use --smoke)")
            logger.info("nothing built in %s: building tiny smoke models in %s", settings.home, tmp)
            settings = smoke_home(settings, Path(tmp))
        result = run_speed_benchmark(settings, config=cfg)
    sys.stdout.write(render_speed(result) + "\n")
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
    return 0
