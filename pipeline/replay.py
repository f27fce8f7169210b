"""Replay recorded calls through the live-call engine and print one JSON line per call, then per incident.

Input JSONL, one call a line::

    {"call_id": "c-001", "region": "杭州市西湖区", "started_at": "2024-05-01T09:00:00+08:00",
     "turns": [{"speaker": "customer", "text": "我家宽带断了"}, {"speaker": "agent", "text": "请问您的地址是？"}]}

Output (stdout, the whole contract: nothing else is written there), calls in ``started_at`` order::

    {"call_id": "c-001", "label": "broadband.cannot_connect", "service": "broadband", "confidence": 0.93,
     "abstain": false, "slots": {"phone": "13812345678", "location": "…", "fault_time": "昨天晚上", …every field
     kind…}, "escalation": false}
    {"type": "mass_incident", "code": "broadband.cannot_connect", "region": "杭州市西湖区",
     "call_ids": [...], "first": "2024-05-01T09:00:00+08:00", "last": "…", "family": …, "sub_area": …}

``label`` is null for a call that is not a telecom complaint.

Every turn is timed at its call's ``started_at``. The file is validated before anything is printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.core.settings import Settings
from hotline.core.validate import check_call_id, check_turns

__all__ = ["replay_calls", "read_calls", "run_calls", "field_kinds"]

logger = logging.getLogger(__name__)

_SLOTS = ("phone", "location", "device", "fault_time")


def read_calls(path: str | Path, *, max_chars: int = 2000) -> list[dict[str, Any]]:
    """Read and validate a calls JSONL file; returns the calls sorted by ``started_at`` (stable).

    Raises:
        InvalidInputError: naming the file, the line and the field, e.g. ``calls.jsonl:3: field 'turns[1].speaker' …``.
    """
    from hotline.pipeline.live.notices import parse_time

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"calls file {str(path)!r} does not exist; pass a JSONL file with one call a line")
    calls: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        try:
            call_id = check_call_id(obj.get("call_id"))
        except InvalidInputError as e:
            raise InvalidInputError(f"{where}: field 'call_id': {e}") from None
        if call_id in seen:
            raise InvalidInputError(f"{where}: field 'call_id' = {call_id!r} already used on line {seen[call_id]}")
        seen[call_id] = lineno
        region = obj.get("region", "")
        if region is None:
            region = ""
        if not isinstance(region, str) or len(region) > 64:
            raise InvalidInputError(f"{where}: field 'region' must be a string of at most 64 characters, got {region!r:.80}")
        if "started_at" not in obj:
            raise InvalidInputError(f"{where}: field 'started_at' is missing; add an ISO 8601 time like '2024-05-01T09:00:00+08:00'")
        try:
            started = parse_time(obj["started_at"], field="started_at")
        except InvalidInputError as e:
            raise InvalidInputError(f"{where}: {e}") from None
        turns = check_turns(obj.get("turns"), where, max_chars=max_chars)
        calls.append({"call_id": call_id, "region": region.strip(), "started_at": started, "turns": turns,
                      "_line": lineno})
    calls.sort(key=lambda c: c["started_at"])
    return calls


def field_kinds(data_dir: Path, index_dir: Path | None = None) -> tuple[str, ...]:
    """Every ticket field kind the handling specs ask for (phone, location, amount, …), sorted: the specs of the
    build at ``index_dir`` when it carries them, else the data folder's."""
    from hotline.index.kb import load_specs
    from hotline.index.publish import specs_path

    path = specs_path(index_dir, data_dir) if index_dir is not None else data_dir / "kb" / "specs.jsonl"
    kinds = {f.name for spec in (load_specs(path).values() if path.is_file() else []) for f in spec.ticket_fields}
    return tuple(sorted(kinds | set(_SLOTS)))


def replay_calls(path: str | Path, settings: Settings, out: IO[str] | None = None, *,
                 pipeline: Any = None) -> dict[str, int]:
    """Run every call of ``path`` through a fresh :class:`~hotline.pipeline.live.registry.CallManager`; JSON lines to ``out``.

    Args:
        path: Calls JSONL (see the module docstring).
        settings: Where the models live; incident threshold and window.
        out: Text stream for the JSON lines (default ``sys.stdout``).
        pipeline: An already warmed pipeline (tests); default loads one from ``settings`` like ``serve``.

    Returns:
        ``{"calls": n, "incidents": m}``.
    """
    out = out or sys.stdout
    calls = read_calls(path, max_chars=settings.max_text_chars)
    n_calls = n_incidents = 0
    # stdout is a contract: anything a library prints while loading or running goes to stderr instead
    with contextlib.redirect_stdout(sys.stderr):
        for kind, record in run_calls(calls, settings, pipeline=pipeline, where=str(path)):
            if kind == "call":
                n_calls += 1
                record = {k: record[k] for k in _CALL_LINE}
            else:
                n_incidents += 1
            _write(out, record)
    logger.info("replayed %d calls, %d mass incidents", n_calls, n_incidents)
    return {"calls": n_calls, "incidents": n_incidents}


# the fields of a replay call line (run_calls' records carry more, for `hotline eval calls`)
_CALL_LINE = ("call_id", "label", "service", "confidence", "abstain", "slots", "escalation")


def run_calls(calls: list[dict[str, Any]], settings: Settings, *, pipeline: Any = None,
              where: str = "calls") -> Iterator[tuple[str, dict[str, Any]]]:
    """Run validated calls (:func:`read_calls`) through the live engine, in order; yields results as they come.

    Yields ``("call", record)`` per call — ``call_id``, ``label`` (``None`` when the call is not a telecom
    complaint), ``service``, ``confidence``, ``abstain``, ``level``, ``slots`` (every field kind; the phone as
    11 digits), ``escalation``, ``evidence`` and ``shown`` (the label displayed after each turn, for
    stability measures) — then ``("incident", line)`` per mass incident, in the order they were raised.
    """
    from hotline.pipeline.live.incidents import IncidentDetector
    from hotline.pipeline.live.notices import NoticeBoard
    from hotline.pipeline.live.registry import CallManager

    if pipeline is None:
        from hotline.pipeline.assist import AssistPipeline

        pipeline = AssistPipeline(settings, classifier_dir=settings.classifier_dir.resolve(),
                                  index_dir=settings.index_dir.resolve())
        pipeline.warm_up()
    kinds = field_kinds(settings.data_dir, getattr(pipeline, "index_dir", None) or settings.index_dir)
    now: list[datetime] = [calls[0]["started_at"]] if calls else []
    incidents = IncidentDetector(threshold=settings.incident_threshold, window_min=settings.incident_window_min)
    manager = CallManager(pipeline, settings=settings, notices=NoticeBoard(), incidents=incidents,
                          clock=lambda: now[0])
    try:
        for call in calls:
            now[0] = call["started_at"]
            shown: list[str | None] = []
            try:
                manager.start_call(call["call_id"], region=call["region"], started_at=call["started_at"])
                for t in call["turns"]:
                    state = manager.add_utterance(call["call_id"], t["speaker"], t["text"], ts=call["started_at"])
                    shown.append(_label(state.category))
                slots = manager.slot_values(call["call_id"], kinds)
            except InvalidInputError as e:
                raise InvalidInputError(f"{where}:{call['_line']}: {e}") from None
            finally:
                manager.discard(call["call_id"])
            cat = state.category
            yield "call", {
                "call_id": call["call_id"],
                "label": _label(cat),
                "service": None if cat is None or cat.level == "none" else cat.service,
                "confidence": None if cat is None else cat.confidence,
                "abstain": True if cat is None else cat.abstain,
                "level": None if cat is None else cat.level,
                "slots": {k: slots.get(k) for k in kinds},
                "escalation": bool(state.escalation.escalate),
                "evidence": [] if cat is None else cat.evidence,
                "shown": shown,
            }
        for inc in incidents.all():
            yield "incident", {"type": "mass_incident", "code": inc.code, "region": inc.region,
                               "call_ids": inc.call_ids, "first": inc.first, "last": inc.last,
                               "family": inc.family, "sub_area": inc.sub_area}
    finally:
        manager.close()


def _label(cat: Any) -> str | None:
    """The call's label as a replay line shows it: ``None`` before any evidence and for off-topic calls."""
    if cat is None or cat.level == "none":
        return None
    return cat.label


def _write(out: IO[str], obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()
