"""The aggregation pass of batch analysis: per-call records in (any order), the output folder out.

It is shared by every engine (the local worker pool of :mod:`hotline.pipeline.batch.engine`, or Ray): the
engine hands each record of :class:`~hotline.pipeline.batch.analyze.CallAnalyzer` to :meth:`BatchAggregator.add`,
then calls :meth:`BatchAggregator.finish`. Records are spooled to a file in the output folder and read back in
``started_at`` order (ties by call id; only three numbers a call stay in memory for the sort), then:

1. **time order** — repeat callers (:class:`~hotline.pipeline.batch.repeats.RepeatDetector`, a 7-day window of
   caller hashes), mass incidents from the live engine's own
   :class:`~hotline.pipeline.live.incidents.IncidentDetector` (each call's final category, at its start time),
   hot-spot counts, QA roll-up counts, the unanswered questions;
2. **records** — each call's ``repeat_of`` and ``mass_incident`` set and its grade raised by them
   (:func:`~hotline.pipeline.grading.grade_call`), written to ``calls.jsonl`` and ``calls.parquet`` in
   ``started_at`` order.

Outputs (``DIR/``): ``calls.jsonl``, ``calls.parquet``, ``incidents.jsonl`` (``hotline replay``'s incident
lines, in event-time order), ``hotspots.csv`` (:mod:`~hotline.pipeline.batch.hotspots`), ``qa.json`` (pass
rates per flag, agent and team, :class:`~hotline.pipeline.batch.qa.QaAggregator`), ``gaps.jsonl`` (FAQ drafts,
:mod:`~hotline.pipeline.batch.gaps`) and ``summary.json``.

Example:
    >>> agg = BatchAggregator(Settings(), "out", kinds=field_kinds(data_dir))  # doctest: +SKIP
    >>> for record in records:  # doctest: +SKIP
    ...     agg.add(record)
    >>> agg.finish()["outputs"]["calls_jsonl"]  # doctest: +SKIP
    'out/calls.jsonl'
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.batch.gaps import GapMiner
from hotline.pipeline.batch.hotspots import HotspotCounter
from hotline.pipeline.batch.repeats import RepeatDetector
from hotline.pipeline.batch.writers import CALLS_JSONL, CALLS_PARQUET, CallsWriter, JsonlWriter

__all__ = ["BatchAggregator", "read_records", "OUTPUTS"]

logger = logging.getLogger(__name__)

OUTPUTS = {"calls_jsonl": CALLS_JSONL, "calls_parquet": CALLS_PARQUET, "incidents": "incidents.jsonl",
           "hotspots": "hotspots.csv", "qa": "qa.json", "gaps": "gaps.jsonl", "summary": "summary.json"}
_STAGE = ".stage"


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Per-call records of an earlier run (its ``calls.jsonl`` or ``calls.parquet``), e.g. a hot-spot baseline.

    Raises:
        InvalidInputError: the file is missing, of another kind, or not a run's records.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"baseline file {str(path)!r} does not exist; pass an earlier run's "
                                f"{CALLS_JSONL} or {CALLS_PARQUET}")
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096, columns=["label", "service", "is_complaint",
                                                                                  "region", "sub_area", "date", "hour"]):
            yield from batch.to_pylist()
        return
    if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        raise InvalidInputError(f"baseline file {str(path)!r}: use an earlier run's {CALLS_JSONL} or {CALLS_PARQUET}")
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{path}:{n}: not valid JSON ({e.msg}); pass an earlier run's {CALLS_JSONL}") from None
            if not isinstance(row, dict) or "date" not in row or "label" not in row:
                raise InvalidInputError(f"{path}:{n}: not a per-call record of `hotline analyze` (no 'date' and "
                                        f"'label'); pass an earlier run's {CALLS_JSONL}")
            yield row


class BatchAggregator:
    """Cross-call analysis and the output files (see the module docstring).

    Args:
        settings: Incident threshold and window (``HOTLINE_INCIDENT_THRESHOLD``, ``…_WINDOW_MIN``).
        out_dir: The output folder (created).
        kinds: Slot field kinds of the records (the Parquet ``slots`` columns).
        baseline: Earlier runs' ``calls.jsonl`` / ``calls.parquet`` whose days are the hot-spot baseline.
        gap_encoder: Sentence encoder for clustering unanswered questions; ``"auto"`` loads
            ``settings.encoder``, None clusters TF-IDF character n-grams.
        hotspot_min_count: Fewest calls a hot-spot cell needs on the target day.
        repeat_window_days: How far back a repeat call's earlier call may be.
        qa_aggregator: A :class:`~hotline.pipeline.batch.qa.QaAggregator` (default settings when None).
    """

    def __init__(self, settings: Settings, out_dir: str | Path, *, kinds: Iterable[str],
                 baseline: Iterable[str | Path] = (), gap_encoder: Any = "auto", hotspot_min_count: int = 3,
                 repeat_window_days: float = 7.0, qa_aggregator: Any = None) -> None:
        self.settings = settings
        self.out_dir = Path(out_dir)
        self.kinds = tuple(kinds)
        self.baseline = [Path(p) for p in baseline]
        self.gap_encoder = gap_encoder
        self.hotspot_min_count = hotspot_min_count
        self.repeat_window_days = repeat_window_days
        self.qa_aggregator = qa_aggregator
        self.n = 0
        self._stage_dir = self.out_dir / _STAGE
        self._spool: IO[bytes] | None = None
        self._offsets = array("q")  # byte offset of each spooled record
        self._times = array("d")  # its started_at as a POSIX timestamp
        self._ties = array("q")  # a digest of its call_id: calls that start together sort the same in every engine

    def add(self, record: dict[str, Any]) -> None:
        """Take one per-call record (as :meth:`CallAnalyzer.run` returns it)."""
        if self._spool is None:
            self._stage_dir.mkdir(parents=True, exist_ok=True)
            self._spool = (self._stage_dir / "records.jsonl").open("wb")
        self._offsets.append(self._spool.tell())
        self._times.append(datetime.fromisoformat(record["started_at"]).timestamp())
        self._ties.append(int.from_bytes(hashlib.blake2b(str(record["call_id"]).encode(), digest_size=8).digest(),
                                         "big", signed=True))
        self._spool.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self.n += 1

    def add_many(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.add(r)

    # -- the passes ---------------------------------------------------------------------------------
    def finish(self, **summary: Any) -> dict[str, Any]:
        """Run the cross-call passes and write every output; returns the summary (also ``summary.json``),
        with ``summary`` entries (``n_skipped``, ``seconds`` …) merged in."""
        from hotline.pipeline.live.incidents import IncidentDetector

        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        repeats = RepeatDetector(window_days=self.repeat_window_days)
        incidents = IncidentDetector(threshold=self.settings.incident_threshold,
                                     window_min=self.settings.incident_window_min)
        hotspots = HotspotCounter(min_count=self.hotspot_min_count)
        n_baseline = sum(hotspots.add_baseline(read_records(p)) for p in self.baseline)
        gaps = GapMiner(encoder=self._gap_encoder())
        qa_counts: Counter[tuple[str | None, str | None, tuple[tuple[str, bool], ...]]] = Counter()
        sorted_path = self._stage_dir / "sorted.jsonl"
        with JsonlWriter(sorted_path) as staged:
            for rec in self._in_time_order():
                started = datetime.fromisoformat(rec["started_at"])
                rec["repeat_of"] = repeats.observe(rec["call_id"], rec.get("caller"), started, rec.get("label"),
                                                   bool(rec.get("is_complaint")))
                vote = rec["label"] if rec.get("is_complaint") else None
                incidents.observe(rec["call_id"], vote, rec.get("region"), started,
                                  location=(rec.get("slots") or {}).get("location"), onset=rec.get("onset"))
                hotspots.add(rec)
                flags = tuple((f["flag"], bool(f["passed"])) for f in (rec.get("qa") or {}).get("flags", []))
                qa_counts[(rec.get("team"), rec.get("agent_id"), flags)] += 1
                for q in rec.get("kb_gaps") or []:
                    gaps.add({"text": q["text"], "call_id": rec["call_id"], "label": rec.get("label")})
                staged.write(rec)
        raised = incidents.all()
        members = {cid for inc in raised for cid in inc.call_ids}
        paths = {k: str(self.out_dir / v) for k, v in OUTPUTS.items()}
        stats = self._write_calls(sorted_path, members)
        with JsonlWriter(paths["incidents"]) as w:
            for inc in raised:  # observed in started_at order, so raised in event-time order
                w.write({"type": "mass_incident", "code": inc.code, "region": inc.region, "call_ids": inc.call_ids,
                         "first": inc.first, "last": inc.last, "family": inc.family, "sub_area": inc.sub_area})
        spots = hotspots.rank()
        hotspots.write_csv(paths["hotspots"], spots)
        qa = self._qa(qa_counts)
        Path(paths["qa"]).write_text(json.dumps(qa, ensure_ascii=False, indent=2), encoding="utf-8")
        drafts = gaps.run()
        with JsonlWriter(paths["gaps"]) as w:
            for d in drafts:
                w.write(d)
        shutil.rmtree(self._stage_dir, ignore_errors=True)
        out = {
            "n_calls": self.n,
            **summary,
            "labels": dict(stats["labels"].most_common()),
            "grades": dict(stats["grades"].most_common()),
            "escalations": stats["escalations"],
            "repeats": {"n": stats["repeats"], "by_category": repeats.rates()},
            "incidents": len(raised),
            "hotspots": {"target_day": hotspots.target_day, "cells": len(spots), "baseline_records": n_baseline,
                         "top": spots[:10]},
            "qa": qa["flags"],
            "gaps": {"questions": gaps.n_seen_, "drafts": len(drafts)},
            "outputs": paths,
        }
        Path(paths["summary"]).write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
        return out

    def _in_time_order(self) -> Iterator[dict[str, Any]]:
        if not self.n:
            return
        # by start time, then call id digest: the order does not depend on the order records arrived in
        order = np.lexsort((np.frombuffer(self._ties, dtype=np.int64), np.frombuffer(self._times, dtype=np.float64)))
        offsets = np.frombuffer(self._offsets, dtype=np.int64)
        with (self._stage_dir / "records.jsonl").open("rb") as f:
            for i in order:
                f.seek(int(offsets[i]))
                yield json.loads(f.readline())

    def _write_calls(self, sorted_path: Path, members: set[str]) -> dict[str, Any]:
        from hotline.pipeline.grading import grade_call

        stats: dict[str, Any] = {"labels": Counter(), "grades": Counter(), "escalations": 0, "repeats": 0}
        with CallsWriter(self.out_dir, kinds=self.kinds) as w, sorted_path.open(encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                rec["mass_incident"] = rec["call_id"] in members
                g = grade_call(escalation={"escalate": rec.get("escalation"), "reasons": rec.get("escalation_reasons")},
                               customer=rec.get("customer"), repeat=rec.get("repeat_of") is not None,
                               mass_incident=rec["mass_incident"])
                rec["grade"], rec["grade_reasons"] = g.grade.value, g.reasons
                w.write(rec)
                stats["labels"][rec.get("label") or "none"] += 1
                stats["grades"][rec["grade"]] += 1
                stats["escalations"] += bool(rec.get("escalation"))
                stats["repeats"] += rec.get("repeat_of") is not None
        return stats

    def _qa(self, counts: Counter[tuple[str | None, str | None, tuple[tuple[str, bool], ...]]]) -> dict[str, Any]:
        """Pass rates per flag (all calls), per agent and team (calls with an ``agent_id``)."""
        from hotline.core.results import QaFlag, QaScorecard
        from hotline.pipeline.batch.qa import QaAggregator

        per_flag: dict[str, list[int]] = {}
        cards: list[QaScorecard] = []
        for (team, agent, flags), n in sorted(counts.items(), key=lambda kv: repr(kv[0])):
            for flag, ok in flags:
                c = per_flag.setdefault(flag, [0, 0])
                c[0] += n
                c[1] += n * ok
            if agent:
                # one scorecard per distinct outcome, repeated: the roll-up only counts, so this is exact
                card = QaScorecard(agent_id=agent, team=team, passed=all(ok for _, ok in flags),
                                   flags=[QaFlag(flag=f, passed=ok, turn=None, evidence="") for f, ok in flags])
                cards.extend([card] * n)
        flags_out = [{"flag": f, "calls": c, "passed": p, "pass_rate": round(p / c, 4) if c else None}
                     for f, (c, p) in per_flag.items()]
        out: dict[str, Any] = {"flags": flags_out, "calls_without_agent": sum(n for (_, a, _), n in counts.items()
                                                                              if not a)}
        agg = self.qa_aggregator or QaAggregator()
        rolled = agg.run(cards) if cards else {"agents": [], "teams": []}
        out["agents"] = [a.model_dump(mode="json") for a in rolled["agents"]]
        out["teams"] = [t.model_dump(mode="json") for t in rolled["teams"]]
        return out

    def _gap_encoder(self) -> Any:
        if isinstance(self.gap_encoder, str) and self.gap_encoder == "auto":
            from hotline.models.encoders import load_encoder

            return load_encoder(self.settings.encoder)
        return self.gap_encoder
