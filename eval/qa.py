"""QA scorecards against hand labels: per-flag agreement on calls whose ``qa`` says what the agent did.

    hotline eval qa --data calls.jsonl [--rules rules.json] [--out metrics.json]   # last stdout line JSON

Each line is a call as ``hotline analyze`` reads it (``call_id``, ``turns`` with ``speaker``/``text``) plus
``qa``: ``{flag: bool}``, true when the behaviour was observed: the agent greeted with a name, addressed the
caller by surname, apologised, **said** a forbidden phrase, closed properly. For a flag whose rule fails when
something is found (``fails_when: found``, e.g. ``forbidden_phrase``), the scorecard's ``passed`` is the
opposite of the label. A call without a label for a flag is not counted for it.

Example:
    >>> evaluate_qa(rows)["agreement"]["greeting"]  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["evaluate_qa"]


def evaluate_qa(rows: Sequence[dict[str, Any]], *, rules_path: str | Path | None = None) -> dict[str, Any]:
    """``{"n", "agreement": {flag: share}, "n_labelled": {flag: n}, "disagreements": {flag: [call ids]},
    "confusion": {flag: {"tp", "fp", "fn", "tn"}}}``; positive = the behaviour was observed."""
    from hotline.pipeline.batch.qa import FailsWhen, QaScorer

    rows = list(rows)
    for i, r in enumerate(rows):
        if not isinstance(r.get("qa"), dict):
            raise InvalidInputError(f"line {i + 1} ({r.get('call_id')!r}) has no 'qa' object of hand labels; "
                                    "add e.g. \"qa\": {\"greeting\": true, ...}")
    scorer = QaScorer(rules_path=rules_path)
    scorer.warm_up()
    assert scorer.rules_ is not None
    found_fails = {f.name for f in scorer.rules_.flags if f.fails_when is FailsWhen.FOUND}
    cards = scorer.run(rows)["scorecards"]
    out: dict[str, Any] = {"n": len(rows), "agreement": {}, "n_labelled": {}, "disagreements": {}, "confusion": {}}
    for name in scorer.rules_.names:
        pairs = []
        for row, card in zip(rows, cards, strict=True):
            gold = row["qa"].get(name)
            if gold is None:
                continue
            if not isinstance(gold, bool):
                raise InvalidInputError(f"{row.get('call_id')!r}: qa.{name} must be true, false or null, got {gold!r}")
            passed = next(f.passed for f in card.flags if f.flag == name)
            pairs.append((row.get("call_id"), gold, (not passed) if name in found_fails else passed))
        if not pairs:
            continue
        out["n_labelled"][name] = len(pairs)
        out["agreement"][name] = round(sum(g == s for _, g, s in pairs) / len(pairs), 4)
        out["disagreements"][name] = [c for c, g, s in pairs if g != s]
        out["confusion"][name] = {"tp": sum(g and s for _, g, s in pairs), "fp": sum(s and not g for _, g, s in pairs),
                                  "fn": sum(g and not s for _, g, s in pairs),
                                  "tn": sum(not g and not s for _, g, s in pairs)}
    out["min_agreement"] = min(out["agreement"].values(), default=None)
    return out
