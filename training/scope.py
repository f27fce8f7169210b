"""Fit the scope model ("is this telecom speech at all?") beside a classifier (``hotline build``).

In scope: the classifier's own training utterances. Out of scope: off-topic sentences written separately
from the complaint corpus — ``data/kb/offtopic.txt`` and the off-topic call bank the dialogue generator uses
(``data/generator/offtopic_calls.json``). The hand-written check sets under ``data/checks/`` are never read
here: they measure the result.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["fit_scope_model", "offtopic_sentences"]

logger = logging.getLogger(__name__)


def offtopic_sentences(data_dir: Path, *, seed: int = 13, generated_calls: int = 400) -> list[str]:
    """Off-topic sentences from the shipped training-side banks.

    ``data/kb/offtopic.txt`` (one a line), ``data/generator/offtopic_utterances.json`` (``{"utterances":
    {topic: [...]}}``) and the customer's off-topic turns of ``generated_calls`` calls written by the dialogue
    generator from ``data/generator/offtopic_calls.json`` (its templates filled in).
    """
    out: list[str] = []
    txt = data_dir / "kb" / "offtopic.txt"
    if txt.is_file():
        out += [s.strip() for s in txt.read_text(encoding="utf-8").splitlines() if s.strip() and not s.startswith("#")]
    bank = data_dir / "generator" / "offtopic_utterances.json"
    if bank.is_file():
        topics = json.loads(bank.read_text(encoding="utf-8")).get("utterances", {})
        out += [u.strip() for us in topics.values() for u in us if isinstance(u, str) and u.strip()]
    if generated_calls and (data_dir / "generator" / "offtopic_calls.json").is_file():
        from hotline.training.dialogues import DialogueGenerator

        gen = DialogueGenerator(seed=seed, per_code=1, offtopic_calls=generated_calls,
                                phrases_dir=data_dir / "generator" / "phrases",
                                common_path=data_dir / "generator" / "common.json",
                                dialogue_path=data_dir / "generator" / "dialogue.json",
                                offtopic_path=data_dir / "generator" / "offtopic_calls.json",
                                specs_path=data_dir / "kb" / "specs.jsonl")
        gen.warm_up()
        out += [t["text"] for c in gen.run()["calls"] if c["label"] is None
                for t in c["turns"] if t["speaker"] == "customer" and t["role"] == "offtopic"]
    return sorted(set(out))


def fit_scope_model(in_scope: list[str], out: str | Path, *, data_dir: Path, seed: int = 13,
                    encoder: str | None = None, max_in_scope: int = 6000) -> dict[str, Any]:
    """Fit a :class:`~hotline.models.scope.ScopeModel` and save it to ``out``; returns its out-of-fold metrics."""
    from hotline.core.mask import masked_text
    from hotline.models.scope import ScopeModel

    neg = offtopic_sentences(data_dir, seed=seed)
    if len(neg) < 20:
        raise InvalidInputError(f"only {len(neg)} off-topic sentences under {data_dir}; the scope model needs the "
                                "shipped banks data/kb/offtopic.txt and data/generator/offtopic_calls.json")
    pos = list(in_scope)
    if len(pos) > max_in_scope:  # a sample is plenty for a binary char-n-gram model, and keeps the build fast
        pos = random.Random(seed).sample(pos, max_in_scope)
    model = ScopeModel(seed=seed, encoder=encoder).fit([masked_text(t) for t in pos], [masked_text(t) for t in neg])
    model.save(out)
    return dict(model.oof_metrics_, threshold=model.threshold_)
