"""``hotline retrain``: a candidate build from the base corpus plus new data, promoted only through the gate.

Steps (each logged): read the new records (users' labelled JSONL, and with ``from_store`` the agents'
verdicts and the ended calls they refer to: :mod:`hotline.training.operations`); build a candidate in a new
build folder with :func:`hotline.training.build.build_default` (the same corpus parameters as the live build,
the new records weighted beside it; classifier, calibration and abstain thresholds, scope model, call model,
no-answer model and FAQ index refitted together) without promoting it; measure the live build and the
candidate on the same check sets (:mod:`hotline.training.check_sets`: the shipped hand-written sets and the
user's gate files); decide with :func:`hotline.training.gate.decide`; promote when the gate passes or
``force`` is set (recorded in the build's manifest and the registry's history). One retrain at a time: the
registry's ``retrain`` lock; a second job fails at once with :class:`hotline.store.builds.BuildLockedError`.

Example:
    >>> job = RetrainJob(Settings(), data=["labelled.jsonl"], gate=["my_checks.jsonl"])  # doctest: +SKIP
    >>> job.run()["promoted"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.store.builds import BuildRegistry

__all__ = ["RetrainJob", "DEFAULT_PARAMS", "gate_and_promote", "rebuild_gated"]

logger = logging.getLogger(__name__)

# build_default's own defaults: used when the live build's manifest does not record its parameters
DEFAULT_PARAMS: dict[str, Any] = {"per_code": 400, "seed": 13, "builder": "complaint.ensemble.v1", "call_per_code": 60,
                                  "no_answer_per_code": 50}


class RetrainJob:
    """One retrain: new data → candidate build → gate → promote or keep the live build.

    Args:
        settings: Hotline settings (``home`` holds the builds and, by default, the store).
        data: Users' labelled JSONL files (``{"text", "label"}`` + optional ``weight``, ``created_at``).
        from_store: Also take agents' verdicts and the ended calls they refer to from the store.
        since: Only store feedback given at or after this time.
        gate: The user's own check sets (``{"text", "label"}`` JSONL, ``"label": null`` allowed): not worse.
        force: Promote even when the gate refuses (recorded as forced, with the gate's reasons).
        params: Corpus and model parameters for :func:`build_default` over the live build's (``per_code``,
            ``call_per_code``, ``seed``, ``builder``, ``encoder``).
        retrieval: Measure the retrieval check sets too.
        actor: Who runs it (the registry's history).
    """

    def __init__(self, settings: Settings, *, data: Sequence[str | Path] = (), from_store: bool = False,
                 since: datetime | None = None, gate: Sequence[str | Path] = (), force: bool = False,
                 params: dict[str, Any] | None = None, retrieval: bool = True, actor: str | None = None) -> None:
        self.settings = settings
        self.data = [Path(p) for p in data]
        self.from_store = from_store
        self.since = since
        self.gate = list(dict.fromkeys(Path(p) for p in gate))
        self.force = force
        self.params = dict(params or {})
        self.retrieval = retrieval
        self.actor = actor or "hotline retrain"

    def run(self) -> dict[str, Any]:
        """Run the job; returns ``{"promoted", "candidate", "current", "previous", "gate", "reason", "forced",
        "records", "seconds"}`` (``current``: the build live afterwards).

        Raises:
            BuildLockedError: another retrain holds the lock.
            InvalidInputError: no live build, no new records, or a bad data / gate file.
        """
        reg = BuildRegistry(self.settings)
        with reg.lock("retrain"):
            return self._run(reg)

    def _run(self, reg: BuildRegistry) -> dict[str, Any]:
        from hotline.training.build import build_default
        from hotline.training.check_sets import BuildEvaluator

        t0 = time.perf_counter()
        previous = reg.current_id()
        if previous is None:
            raise InvalidInputError(f"no live build in {self.settings.home} to retrain from; run `hotline build` first")
        logger.info("[1/4] reading the new records (%d file(s)%s)", len(self.data),
                    ", the store's feedback and ended calls" if self.from_store else "")
        records, counts = self._records()
        evaluator = BuildEvaluator(self.settings, retrieval=self.retrieval)
        names = _gate_names(self.gate)
        user_sets = [evaluator.user_set(p, name=n) for p, n in zip(self.gate, names)]  # checked before training
        sets = evaluator.shipped_sets() + user_sets

        params = self._build_params(reg, previous)
        out = reg.create(source="retrain", parent=previous, note=f"{len(records)} new records: {counts}")
        logger.info("[2/4] building candidate %s from the live build's corpus parameters %s + %d new records",
                    out.name, params, len(records))
        try:
            build_default(self.settings, **params, extra_records=records, out=out, promote=False, source="retrain")
        except BaseException as exc:
            reg.update(out.name, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            raise
        logger.info("[3/4] measuring the live build %s and candidate %s on %d check sets: %s", previous, out.name,
                    len(sets), [s.name for s in sets])
        result = gate_and_promote(reg, evaluator, sets, previous=previous, candidate=out.name,
                                  gate_sets=[s.name for s in user_sets], force=self.force, actor=self.actor,
                                  step="[4/4]", records=counts)
        return {**result, "records": counts, "seconds": round(time.perf_counter() - t0, 1)}

    def _records(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        from hotline.training.operations import OperationsReader, merge_records, read_user_records

        groups, counts = [], {"feedback": 0, "ended_call": 0, "user": 0, "retrieval": 0, "skipped": {}}
        for path in self.data:
            recs, c = read_user_records(path, max_chars=self.settings.max_text_chars)
            groups.append(recs)
            _add_counts(counts, c)
        if self.from_store:
            from hotline.store.db import open_database

            db = open_database(self.settings.store_url)
            try:
                recs, c = OperationsReader(db, max_chars=self.settings.max_text_chars).read(since=self.since)
            finally:
                db.dispose()
            groups.append(recs)
            _add_counts(counts, c)
        records = merge_records(*groups)
        counts["merged"] = len(records)
        if not records:
            where = "the files given" + (" and the store" if self.from_store else "")
            raise InvalidInputError(f"no new training records in {where} ({counts}); pass --data FILE with "
                                    "{\"text\", \"label\"} lines, or --from-store once agents have sent category "
                                    "feedback")
        logger.info("new records: %s", counts)
        return records, counts

    def _build_params(self, reg: BuildRegistry, build_id: str) -> dict[str, Any]:
        """The live build's corpus and model parameters (so the candidate differs only by the new data), with
        this job's overrides."""
        recorded = reg.manifest(build_id).get("params")
        if not isinstance(recorded, dict):
            logger.info("build %s does not record its parameters; using hotline build's defaults %s", build_id,
                        DEFAULT_PARAMS)
            recorded = DEFAULT_PARAMS
        params = {k: recorded[k] for k in (*DEFAULT_PARAMS, "encoder") if recorded.get(k) is not None}
        unknown = sorted(set(self.params) - {*DEFAULT_PARAMS, "encoder"})
        if unknown:
            raise InvalidInputError(f"unknown build parameter(s) {unknown}; valid: {[*DEFAULT_PARAMS, 'encoder']}")
        params.update({k: v for k, v in self.params.items() if v is not None})
        if not (reg.root / build_id / "classifier" / "meta.json").is_file():
            raise ArtifactError(f"the live build {build_id} has no classifier; rebuild it with `hotline build`")
        return params


def rebuild_gated(settings: Settings, *, force: bool = False, actor: str = "hotline build",
                  **params: Any) -> dict[str, Any]:
    """``hotline build`` on a home that already serves a build: the new build is a candidate that goes live only
    through the same gate as a retrain (on the shipped check sets), or with ``force``. A home with no live build
    gets its first build promoted at once (there is nothing to compare with).

    Returns:
        The build summary, plus ``promoted``, ``current``, ``previous``, ``reason`` and ``gate`` when gated.
    """
    from hotline.training.build import build_default
    from hotline.training.check_sets import BuildEvaluator

    reg = BuildRegistry(settings)
    with reg.lock("retrain"):
        previous = reg.current_id()
        if previous is None:
            summary = build_default(settings, **params)
            return {**summary, "promoted": True, "current": reg.current_id(), "previous": None,
                    "reason": "first build of this home: promoted without a gate"}
        summary = build_default(settings, **params, promote=False)
        candidate = Path(summary["build"]).name
        evaluator = BuildEvaluator(settings, retrieval=True)
        result = gate_and_promote(reg, evaluator, evaluator.shipped_sets(), previous=previous, candidate=candidate,
                                  gate_sets=[], force=force, actor=actor, step="[gate]")
        return {**summary, **result}


def gate_and_promote(reg: BuildRegistry, evaluator: Any, sets: list[Any], *, previous: str, candidate: str,
                     gate_sets: list[str], force: bool, actor: str, step: str = "", **manifest: Any
                     ) -> dict[str, Any]:
    """Measure the live build and a candidate on the same check sets, decide with the gate, and promote the
    candidate when it passes (or ``force``). The decision and the gate report go into the candidate's manifest.

    Returns:
        ``{"promoted", "candidate", "current", "previous", "forced", "reason", "gate"}``.
    """
    from hotline.training.gate import decide

    current_m = evaluator.evaluate(reg.root / previous, sets)
    cand_m = evaluator.evaluate(reg.root / candidate, sets)
    report = decide(current_m, cand_m, gate_sets=gate_sets)
    promoted = report["passed"] or force
    if report["passed"]:
        reason = "gate passed: no check set got worse beyond its tolerance"
    elif force:
        reason = "forced past a refusing gate: " + "; ".join(report["failures"])
    else:
        reason = "gate refused: " + "; ".join(report["failures"])
    logger.info("%s %s", step, reason)
    reg.update(candidate, status="promoted" if promoted else "refused", gate=report, forced=force,
               metrics={n: v["candidate"] for n, v in report["sets"].items()}, **manifest)
    if promoted:
        reg.promote(candidate, actor=actor, forced=force, reason=reason)
    return {"promoted": promoted, "candidate": candidate, "current": reg.current_id(), "previous": previous,
            "forced": force, "reason": reason,
            "gate": {"passed": report["passed"], "tolerance": report["tolerance"],
                     "class_drop": report["class_drop"], "failures": report["failures"],
                     "sets": report["sets"], "class_drops": report["class_drops"]}}


def _gate_names(paths: Sequence[Path]) -> list[str]:
    """``gate:<file name>`` per gate file (with the parent folder when two files share a name)."""
    names = [f"gate:{p.name}" for p in paths]
    return [f"gate:{p.parent.name}/{p.name}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def _add_counts(total: dict[str, Any], part: dict[str, Any]) -> None:
    for k, v in part.items():
        if k == "skipped":
            for sk, sv in v.items():
                total["skipped"][sk] = total["skipped"].get(sk, 0) + sv
        else:
            total[k] = total.get(k, 0) + v
