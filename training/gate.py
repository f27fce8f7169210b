"""The retrain gate: promote a candidate build only when no fixed check set gets worse.

A pure decision over two metric tables (one per build, ``{set name: {metric: value}}``) that
:mod:`hotline.training.check_sets` measures on the same sets for both builds:

- every **shipped** check set (``data/checks``: hand-written utterances, work orders, off-topic speech,
  retrieval on the independent KB) may lose at most ``tolerance`` (default :data:`TOLERANCE`, 0.02 absolute) on
  each of its gated metrics (:data:`SHIPPED_CHECKS`; a rate where lower is better may rise at most that much),
  or two standard errors of the rate on that set where that is more (:func:`noise_tolerance`: 4 of 160
  off-topic sentences is sampling noise between two builds, not a regression);
- on the shipped classification sets together, no code may lose more than ``class_drop`` (default
  :data:`CLASS_DROP`, 0.5) of its recall: mislabelled training data typically wipes out one code while the
  overall accuracy moves by only a few of its examples;
- every **user** gate set (``hotline retrain --gate FILE``) must not get worse at all (tolerance 0).

Example:
    >>> cur = {"work_orders": {"n": 84, "accuracy": 0.95}}
    >>> decide(cur, {"work_orders": {"n": 84, "accuracy": 0.94}})["passed"]
    True
    >>> decide(cur, {"work_orders": {"n": 84, "accuracy": 0.90}})["failures"]
    ['work_orders accuracy 0.950 -> 0.900 (-0.050; allowed -0.020)']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["GateCheck", "SHIPPED_CHECKS", "TOLERANCE", "CLASS_DROP", "CLASS_MIN_N", "decide", "user_checks",
           "noise_tolerance"]

TOLERANCE = 0.02  # the most a shipped check set may lose on a gated metric (absolute)
CLASS_DROP = 0.5  # the most recall one code may lose on the shipped classification sets together
CLASS_MIN_N = 3  # codes with fewer examples there are too noisy for the per-code rule
_EPS = 1e-9  # float noise: an equal metric is never a regression


@dataclass(frozen=True)
class GateCheck:
    """One gated metric of one check set.

    Args:
        set: check set name (a key of the metric tables).
        metric: metric name in that set's metrics, e.g. ``accuracy``.
        higher_is_better: False for rates that should stay low (``abstain_rate``).
        tolerance: how much worse the candidate may be (absolute, >= 0).
    """

    set: str
    metric: str
    higher_is_better: bool = True
    tolerance: float = TOLERANCE

    def judge(self, current: float | None, candidate: float | None) -> dict[str, Any]:
        """The check's verdict for two values. A metric missing from either build cannot be compared: it fails
        when the candidate lacks it (the candidate is measured on every set the current build is) and is skipped
        when the current build lacks it."""
        row: dict[str, Any] = {"set": self.set, "metric": self.metric, "current": current, "candidate": candidate,
                               "higher_is_better": self.higher_is_better, "allowed": -self.tolerance}
        if current is None:
            row.update(delta=None, passed=True, note="no value for the current build; not compared")
            return row
        if candidate is None:
            row.update(delta=None, passed=False, note="the candidate has no value")
            return row
        gain = (candidate - current) if self.higher_is_better else (current - candidate)  # > 0: better
        row.update(delta=round(candidate - current, 6), passed=gain >= -self.tolerance - _EPS)
        return row

    def describe(self, row: dict[str, Any]) -> str:
        if row.get("delta") is None:
            return f"{self.set} {self.metric}: {row.get('note')}"
        sign = "" if self.higher_is_better else " (lower is better)"
        allowed = self.tolerance if not self.higher_is_better else -self.tolerance
        return (f"{self.set} {self.metric} {row['current']:.3f} -> {row['candidate']:.3f} "
                f"({row['delta']:+.3f}; allowed {allowed:+.3f}){sign}")


# the shipped sets' gated metrics (the others are reported beside them, not gated: too few examples to be
# stable, e.g. recall@1 over the 40 answerable queries of retrieval_unanswerable)
SHIPPED_CHECKS: tuple[GateCheck, ...] = (
    GateCheck("classify_handwritten", "accuracy"),
    GateCheck("classify_handwritten", "abstain_rate", higher_is_better=False),
    GateCheck("work_orders", "accuracy"),
    GateCheck("offtopic_handwritten", "out_of_scope_rejected"),
    GateCheck("retrieval_queries", "recall@1"),
    GateCheck("retrieval_queries", "no_answer_accuracy"),
    GateCheck("retrieval_unanswerable", "no_answer_accuracy"),
)
CLASS_SETS = ("classify_handwritten", "work_orders")  # the per-code recall rule pools these
# how many items a rate is measured over, by metric (the set's metrics carry these counts)
_RATE_COUNTS = {"accuracy": ("n_labelled", "n"), "abstain_rate": ("n_labelled", "n"),
                "out_of_scope_rejected": ("n_out_of_scope",), "recall@1": ("n_answerable",),
                "no_answer_accuracy": ("n_unanswerable",)}


def noise_tolerance(metric: str, metrics: Mapping[str, Any] | None, *, z: float = 2.0) -> float:
    """``z`` standard errors of a rate ``p`` measured on ``n`` items, ``z·sqrt(p(1−p)/n)``: how far two builds
    may differ on one check set by sampling alone; 0.0 when the count or the rate is unknown."""
    if not metrics:
        return 0.0
    p = metrics.get(metric)
    n = next((metrics[k] for k in _RATE_COUNTS.get(metric, ()) if metrics.get(k)), None)
    if not isinstance(p, (int, float)) or not isinstance(n, (int, float)) or n <= 0 or not 0.0 <= p <= 1.0:
        return 0.0
    return z * math.sqrt(p * (1.0 - p) / n)


def user_checks(name: str, metrics: Mapping[str, Any]) -> list[GateCheck]:
    """The checks of a user's ``--gate`` set: not worse (tolerance 0) on accuracy over its labelled records and
    on ``out_of_scope_rejected`` over its ``"label": null`` ones, whichever it has."""
    return [GateCheck(name, m, tolerance=0.0) for m in ("accuracy", "out_of_scope_rejected")
            if metrics.get(m) is not None]


def _class_rows(current: Mapping[str, Any], candidate: Mapping[str, Any], *, class_drop: float,
                min_n: int) -> list[dict[str, Any]]:
    """Per-code recall on the pooled classification sets: one row for each code that lost more than allowed."""
    def pooled(table: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for name in CLASS_SETS:
            for code, (hit, n) in ((table.get(name) or {}).get("per_class") or {}).items():
                h0, n0 = out.get(code, (0, 0))
                out[code] = (h0 + int(hit), n0 + int(n))
        return out

    cur, cand = pooled(current), pooled(candidate)
    rows = []
    for code, (hit, n) in sorted(cur.items()):
        if n < min_n or code not in cand:
            continue
        r_cur, r_cand = hit / n, cand[code][0] / max(cand[code][1], 1)
        if r_cur - r_cand > class_drop + _EPS:
            rows.append({"code": code, "n": n, "current": round(r_cur, 4), "candidate": round(r_cand, 4),
                         "allowed": -class_drop, "passed": False})
    return rows


def decide(current: Mapping[str, Mapping[str, Any]], candidate: Mapping[str, Mapping[str, Any]], *,
           gate_sets: Sequence[str] = (), tolerance: float = TOLERANCE, class_drop: float = CLASS_DROP,
           class_min_n: int = CLASS_MIN_N, checks: Sequence[GateCheck] | None = None) -> dict[str, Any]:
    """Compare a candidate build with the current one on the same check sets.

    Args:
        current / candidate: ``{set name: {metric: value, "per_class": {code: [hits, n]}}}`` per build.
        gate_sets: names of the user's gate sets among the tables' keys (not worse at all).
        tolerance: the most a shipped set may lose per gated metric (replaces each shipped check's own), or
            :func:`noise_tolerance` of the current build's rate on that set where that is more.
        class_drop: the most recall one code may lose on the pooled shipped classification sets.
        class_min_n: codes with fewer examples there are not judged per code.
        checks: the shipped checks (default :data:`SHIPPED_CHECKS`); a set missing from ``current`` is skipped.

    Returns:
        ``{"passed", "tolerance", "class_drop", "checks": [...], "class_drops": [...], "failures": [str],
        "sets": {name: {"current": metrics, "candidate": metrics}}}``.

    Raises:
        InvalidInputError: a tolerance out of range, or a gate set missing from a table.
    """
    if not 0.0 <= tolerance < 1.0:
        raise InvalidInputError(f"tolerance must be in [0, 1), got {tolerance}")
    if not 0.0 <= class_drop <= 1.0:
        raise InvalidInputError(f"class_drop must be in [0, 1], got {class_drop}")
    missing = [g for g in gate_sets if g not in current or g not in candidate]
    if missing:
        raise InvalidInputError(f"gate set(s) {missing} were not measured on both builds; measure every --gate "
                                "file on the current build and the candidate")
    shipped = [GateCheck(c.set, c.metric, c.higher_is_better,
                         max(tolerance, round(noise_tolerance(c.metric, current.get(c.set)), 4)))
               for c in (SHIPPED_CHECKS if checks is None else checks) if c.set in current]
    all_checks = shipped + [c for g in gate_sets for c in user_checks(g, current[g])]
    rows, failures = [], []
    for check in all_checks:
        row = check.judge((current.get(check.set) or {}).get(check.metric),
                          (candidate.get(check.set) or {}).get(check.metric))
        row["gate_set"] = check.set in gate_sets
        rows.append(row)
        if not row["passed"]:
            failures.append(check.describe(row))
    drops = _class_rows(current, candidate, class_drop=class_drop, min_n=class_min_n)
    failures += [f"code {d['code']} recall {d['current']:.2f} -> {d['candidate']:.2f} on the shipped "
                 f"classification sets ({d['n']} examples; allowed -{class_drop:.2f})" for d in drops]
    names = list(dict.fromkeys([*current, *candidate]))
    sets = {n: {"current": _public(current.get(n)), "candidate": _public(candidate.get(n))} for n in names}
    return {"passed": not failures, "tolerance": tolerance, "class_drop": class_drop, "checks": rows,
            "class_drops": drops, "failures": failures, "sets": sets}


def _public(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A set's metrics without the per-code table (it stays in the builds' own reports)."""
    if metrics is None:
        return None
    return {k: v for k, v in metrics.items() if k != "per_class"}
