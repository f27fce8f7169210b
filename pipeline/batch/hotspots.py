"""Complaint hot spots: which services and phenomena, in which places and hours, spike against normal.

Complaint calls are counted per **cell** — (service, or leaf phenomenon) × place × hour of day — per day. The
place is the call's region read as city + district (:func:`~hotline.pipeline.live.places.parse_place`), and,
where the caller named one, its sub-area (a 小区, a road) as a finer cell. The **target day** is the latest
day of the input; the **baseline** is every earlier day: earlier days of the input and, with
``--baseline FILE``, the days of an earlier run's ``calls.jsonl`` / ``calls.parquet``.

A cell's spike score is the Poisson surprise of today's count ``c`` under the baseline's mean per day ``μ``:
``score = -log10 P(X >= c | λ)`` with ``λ = max(μ, 0.5 / baseline days)`` (a cell never seen before is
surprising, not infinitely so), beside ``z = (c - μ) / sqrt(λ)``. Cells are ranked by score, then count; with
no baseline day at all there is no score and cells are ranked by count.

Example:
    >>> counter = HotspotCounter(min_count=2)
    >>> for day in ("2024-05-01", "2024-05-02"):
    ...     counter.add({"is_complaint": True, "label": "broadband.cannot_connect", "service": "broadband",
    ...                  "region": "杭州市西湖区", "sub_area": None, "date": day, "hour": 9})
    >>> for _ in range(5):
    ...     counter.add({"is_complaint": True, "label": "broadband.cannot_connect", "service": "broadband",
    ...                  "region": "杭州市西湖区", "sub_area": None, "date": "2024-05-03", "hour": 9})
    >>> top = counter.rank()[0]
    >>> top["code"], top["count"], top["baseline_mean"], round(top["score"], 2)
    ('broadband.cannot_connect', 5, 1.0, 2.44)
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["HotspotCounter", "HOTSPOT_COLUMNS"]

HOTSPOT_COLUMNS = ("rank", "date", "hour", "granularity", "level", "code", "name", "region", "sub_area", "count",
                   "baseline_mean", "baseline_days", "ratio", "z", "score")
_FLOOR = 0.5  # per baseline window: the expected count of a cell never seen before is 0.5 / baseline days


class HotspotCounter:
    """Counts complaint calls per cell and day, and ranks the target day's cells against the baseline.

    Args:
        min_count: Cells with fewer calls on the target day are not listed.
        taxonomy: Names of codes (default: the shipped taxonomy).
    """

    def __init__(self, *, min_count: int = 3, taxonomy: Any = None) -> None:
        if min_count < 1:
            raise InvalidInputError(f"min_count must be >= 1, got {min_count}")
        self.min_count = min_count
        self.taxonomy = taxonomy
        self._days: dict[str, Counter[tuple[str, str, str, str, str, int]]] = {}
        self._baseline_days: dict[str, Counter[tuple[str, str, str, str, str, int]]] = {}

    def add(self, record: dict[str, Any], *, baseline: bool = False) -> None:
        """Count one per-call record (only complaint calls with a label count). ``baseline``: from a baseline
        file (its days are never the target day)."""
        label = record.get("label")
        if not label or not record.get("is_complaint") or record.get("date") is None or record.get("hour") is None:
            return
        from hotline.pipeline.live.places import parse_place

        place = parse_place(record.get("region") or "").label or "-"
        sub = record.get("sub_area") or ""
        hour = int(record["hour"])
        service = record.get("service") or label.split(".", 1)[0]
        days = self._baseline_days if baseline else self._days
        counts = days.setdefault(str(record["date"]), Counter())
        for level, code in (("service", service), ("leaf", label)):
            counts[("region", level, code, place, "", hour)] += 1
            if sub:
                counts[("sub_area", level, code, place, sub, hour)] += 1

    def add_baseline(self, records: Iterable[dict[str, Any]]) -> int:
        """Count an earlier run's records as baseline; returns how many were read."""
        n = 0
        for r in records:
            self.add(r, baseline=True)
            n += 1
        return n

    @property
    def target_day(self) -> str | None:
        return max(self._days) if self._days else None

    def rank(self) -> list[dict[str, Any]]:
        """The target day's cells with at least ``min_count`` calls, most surprising first (rows of
        :data:`HOTSPOT_COLUMNS`)."""
        from scipy.stats import poisson

        day = self.target_day
        if day is None:
            return []
        base = {d: c for d, c in self._baseline_days.items() if d != day}
        base.update({d: c for d, c in self._days.items() if d < day})
        n_days = len(base)
        totals: Counter[tuple[str, str, str, str, str, int]] = Counter()
        for counts in base.values():
            totals.update(counts)
        rows = []
        for key, count in self._days[day].items():
            if count < self.min_count:
                continue
            granularity, level, code, place, sub, hour = key
            mean = totals[key] / n_days if n_days else None
            z = score = ratio = None
            if mean is not None:
                lam = max(mean, _FLOOR / n_days)
                z = (count - mean) / math.sqrt(lam)
                score = float(-math.log10(max(float(poisson.sf(count - 1, lam)), 1e-300)))
                ratio = count / mean if mean > 0 else None
            rows.append({"date": day, "hour": hour, "granularity": granularity, "level": level, "code": code,
                         "name": self._name(level, code), "region": place, "sub_area": sub, "count": count,
                         "baseline_mean": None if mean is None else round(mean, 4), "baseline_days": n_days,
                         "ratio": None if ratio is None else round(ratio, 3),
                         "z": None if z is None else round(z, 3), "score": None if score is None else round(score, 4)})
        rows.sort(key=lambda r: (-(r["score"] or 0.0), -r["count"], r["granularity"], r["level"], r["code"],
                                 r["region"], r["sub_area"], r["hour"]))
        for i, r in enumerate(rows, 1):
            r["rank"] = i
        return rows

    def write_csv(self, path: str | Path, rows: list[dict[str, Any]] | None = None) -> Path:
        """Write :meth:`rank`'s rows (UTF-8 with a BOM, so spreadsheet programs read the Chinese names)."""
        path = Path(path)
        rows = self.rank() if rows is None else rows
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(HOTSPOT_COLUMNS))
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r[k]) for k in HOTSPOT_COLUMNS})
        return path

    def _name(self, level: str, code: str) -> str:
        if self.taxonomy is None:
            from hotline.core.taxonomy import default_taxonomy

            self.taxonomy = default_taxonomy()
        if level == "service":
            return self.taxonomy.service_name(code)
        return self.taxonomy[code].phenomenon if code in self.taxonomy else code
