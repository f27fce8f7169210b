"""Evaluate whole calls through the live engine: ``hotline eval calls --data calls.jsonl [--model DIR]``.

Input: ``hotline replay``'s JSONL (``call_id``, ``region``, ``started_at``, ``turns``) plus optional gold fields
per call: ``label`` (a taxonomy code, or ``null`` when the call is not a telecom complaint), ``slots``
(``{kind: value as said}``), ``escalation`` (bool) and ``incident`` (a group name shared by the calls of one
mass incident, ``null`` for decoys). Every call runs turn by turn through the same engine as ``serve`` and
``replay`` (:func:`hotline.pipeline.replay.run_calls`), so the figures are the live path's.

Metrics (the last stdout line of the CLI is this JSON): ``n``, ``label_accuracy``, ``service_accuracy``,
``abstain_rate`` (labelled calls shown as not-a-complaint or uncertain), ``out_of_scope_rejected`` (null-label
calls shown as not-a-complaint), per slot kind ``slot_exact`` and ``slot_overlap`` (character F1, as said),
``escalation_precision`` / ``escalation_recall``, ``incidents`` (count raised) with ``incident_groups`` (per
gold group: raised once?, its calls found, decoys joined), and live-view stability: ``turns_to_final_label``
(mean turn number at which the final label is first shown) and ``label_changes_per_call``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.core.numerals import read_digits
from hotline.core.settings import Settings

__all__ = ["evaluate_calls", "slot_overlap", "same_slot"]

_NUMBER_KINDS = frozenset({"phone", "fault_number", "broadband_account"})
_SPACE_PUNCT = re.compile(r"[\s，。！？、；：,.!?;:“”\"'‘’（）()…—\-~～·]+")


def _norm(v: Any) -> str:
    return _SPACE_PUNCT.sub("", str(v or "")).lower()


def _digit_form(v: Any) -> str:
    """``_norm`` with every digit said in words read as an ASCII digit (幺三六 → 136), letters kept."""
    out = []
    for ch in _norm(v):
        try:
            out.append(read_digits(ch))
        except InvalidInputError:
            out.append(ch)
    return "".join(out)


def same_slot(pred: Any, gold: Any, kind: str | None = None) -> bool:
    """Exact match ignoring spaces and punctuation (``138 1234 5678`` = ``13812345678``); for a number field
    (``kind`` phone, fault_number, broadband_account) digits said in words count as digits (幺三六 = 136)."""
    if kind in _NUMBER_KINDS:
        return bool(_norm(gold)) and _digit_form(pred) == _digit_form(gold)
    return bool(_norm(gold)) and _norm(pred) == _norm(gold)


def slot_overlap(pred: Any, gold: Any) -> float:
    """Character-multiset F1 between the predicted and the gold value (1.0 exact, 0.0 nothing shared)."""
    p, g = Counter(_norm(pred)), Counter(_norm(gold))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def _gold(path: Path) -> dict[str, dict[str, Any]]:
    return {str(obj.get("call_id")): obj for _, obj in iter_jsonl(path)}


def evaluate_calls(path: str | Path, settings: Settings, *, pipeline: Any = None) -> dict[str, Any]:
    """Run the calls of ``path`` through the live engine and score them against their gold fields."""
    from hotline.pipeline.replay import read_calls, run_calls

    path = Path(path)
    calls = read_calls(path, max_chars=settings.max_text_chars)
    gold = _gold(path)
    results, incidents = [], []
    for kind, rec in run_calls(calls, settings, pipeline=pipeline, where=str(path)):
        (results if kind == "call" else incidents).append(rec)
    return score_calls(results, incidents, gold)


def score_calls(results: list[dict[str, Any]], incidents: list[dict[str, Any]],
                gold: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The metrics above from ``run_calls`` records and gold records by call id."""
    from hotline.core.taxonomy import default_taxonomy

    tax = default_taxonomy()

    def service(code: str | None) -> str | None:
        return None if code is None else (tax.service_of(code) if tax.covers({code}) else code.split(".", 1)[0])

    labelled = [(r, gold[r["call_id"]]) for r in results if "label" in gold.get(r["call_id"], {})]
    in_scope = [(r, g) for r, g in labelled if g["label"] is not None]
    out_scope = [(r, g) for r, g in labelled if g["label"] is None]
    m: dict[str, Any] = {"n": len(results), "n_labelled": len(labelled)}
    m["label_accuracy"] = _mean([r["label"] == g["label"] for r, g in labelled])
    m["service_accuracy"] = _mean([service(r["label"]) == service(g["label"]) if g["label"] else r["label"] is None
                                   for r, g in labelled])
    m["abstain_rate"] = _mean([bool(r["abstain"]) for r, _ in in_scope])
    m["out_of_scope_rejected"] = _mean([r["label"] is None for r, _ in out_scope])
    m["confusions"] = Counter(f"{g['label']} -> {r['label']}" for r, g in labelled if r["label"] != g["label"]).most_common(15)

    exact: dict[str, list[bool]] = {}
    overlap: dict[str, list[float]] = {}
    for r in results:
        for k, v in (gold.get(r["call_id"], {}).get("slots") or {}).items():
            if v in (None, ""):
                continue
            pred = (r["slots"] or {}).get(k)
            exact.setdefault(k, []).append(same_slot(pred, v, k))
            overlap.setdefault(k, []).append(slot_overlap(pred, v))
    m["slot_exact"] = {k: _mean(v) for k, v in sorted(exact.items())}
    m["slot_overlap"] = {k: _mean(v) for k, v in sorted(overlap.items())}
    m["slot_n"] = {k: len(v) for k, v in sorted(exact.items())}

    esc = [(bool(r["escalation"]), bool(gold[r["call_id"]]["escalation"])) for r in results
           if "escalation" in gold.get(r["call_id"], {})]
    tp = sum(p and g for p, g in esc)
    m["escalation_precision"] = tp / max(1, sum(p for p, _ in esc)) if esc else None
    m["escalation_recall"] = tp / max(1, sum(g for _, g in esc)) if esc else None

    m["incidents"] = len(incidents)
    m["incident_list"] = [{k: i.get(k) for k in ("code", "family", "region", "sub_area", "first", "last")}
                          | {"n_calls": len(i["call_ids"])} for i in incidents]
    groups: dict[str, set[str]] = {}
    for cid, g in gold.items():
        if g.get("incident"):
            groups.setdefault(str(g["incident"]), set()).add(cid)
    if groups or any("incident" in g for g in gold.values()):
        members = set().union(*groups.values()) if groups else set()
        report = {}
        for name, ids in sorted(groups.items()):
            hits = [i for i in incidents if set(i["call_ids"]) & ids]
            report[name] = {"calls": len(ids), "raised": len(hits),
                            "calls_found": max((len(set(i["call_ids"]) & ids) for i in hits), default=0),
                            "decoys_joined": sum(len(set(i["call_ids"]) - members) for i in hits)}
        m["incident_groups"] = report
        m["incidents_without_group"] = sum(1 for i in incidents if not set(i["call_ids"]) & members)

    # live-view stability: when the final label first appeared, and how often the shown label changed
    first, changes = [], []
    for r in results:
        shown = r.get("shown") or []
        final = r["label"]
        if final is not None and final in shown:
            first.append(shown.index(final) + 1)
        seq = [s for s in shown if s is not None]
        changes.append(sum(a != b for a, b in zip(seq, seq[1:])))
    m["turns_to_final_label"] = _mean(first)
    m["label_changes_per_call"] = _mean(changes)
    return m


def _mean(xs: list[Any]) -> float | None:
    return float(np.mean(xs)) if len(xs) else None
