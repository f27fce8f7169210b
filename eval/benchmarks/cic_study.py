"""The CIC lab notebook: ``cic_study.json`` beside this module, read by the benchmark, written by the study.

The public CIC benchmark (:mod:`hotline.eval.benchmarks.public`) does not choose anything on test_public: its
fine-tune settings (epochs, learning rate, mix weight) and the cross-validation notes behind its linear rows
come from this file. ``python -m hotline.eval.benchmarks.cic_finetune`` rewrites the ``"finetune"`` section
from its own run (dev.json choices, figures and notes) when the ensemble stage ran; hand-written
``"remarks"`` and the ``"linear_cv"`` section are kept.

Example:
    >>> study = load_study()
    >>> finetune_choice(study).mix_weight
    0.6
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError

__all__ = ["FinetuneChoice", "study_path", "load_study", "finetune_choice", "record_finetune_study"]

STUDY_FILE = "cic_study.json"


@dataclass(frozen=True)
class FinetuneChoice:
    """The fine-tune settings chosen on dev.json: epochs, learning rate, fine-tuned share of the mix."""

    epochs: int
    lr: float
    mix_weight: float


def study_path() -> Path:
    """Where the shipped notebook lives (package data of ``hotline.eval.benchmarks``)."""
    return Path(str(resources.files("hotline.eval.benchmarks"))) / STUDY_FILE


def load_study(path: str | Path | None = None) -> dict[str, Any]:
    """The notebook as a dict (default: the shipped file), checked for what the benchmark reads."""
    path = Path(path) if path is not None else study_path()
    if not path.is_file():
        raise ArtifactError(f"the CIC study notebook {str(path)!r} does not exist; it ships beside "
                            "hotline/eval/benchmarks/public.py (reinstall Hotline, or re-run "
                            "'python -m hotline.eval.benchmarks.cic_finetune --study-json PATH')")
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    for section, key, kind in (("linear_cv", "notes", list), ("finetune", "notes", list),
                               ("finetune", "chosen", dict)):
        value = study.get(section, {}).get(key) if isinstance(study.get(section), dict) else None
        if not isinstance(value, kind):
            raise ArtifactError(f"{path}: {section}.{key} must be a {kind.__name__}, got {value!r}; re-run the "
                                "study or restore the file from version control")
    finetune_choice(study, source=path)  # checks the settings too
    return study


def finetune_choice(study: dict[str, Any], *, source: str | Path = STUDY_FILE) -> FinetuneChoice:
    """The ``finetune.chosen`` settings of a notebook, validated."""
    chosen = study.get("finetune", {}).get("chosen", {})
    try:
        choice = FinetuneChoice(epochs=int(chosen["epochs"]), lr=float(chosen["lr"]),
                                mix_weight=float(chosen["mix_weight"]))
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"{source}: finetune.chosen must hold epochs, lr and mix_weight numbers, "
                            f"got {chosen!r}") from None
    if choice.epochs < 1 or choice.lr <= 0 or not 0.0 <= choice.mix_weight <= 1.0:
        raise ArtifactError(f"{source}: finetune.chosen needs epochs >= 1, lr > 0 and 0 <= mix_weight <= 1, "
                            f"got {chosen!r}")
    return choice


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _notes(res: dict[str, Any]) -> list[str]:
    """The report's sentences for one study run (``cic_finetune.run()`` result with the ensemble stage)."""
    cfg, ft, lin, ens = res["config"], res["finetune"], res["linear"], res["ensemble"]
    plain = ens["no_tau"]
    by_epoch = [h["dev_macro_f1"] for h in ft["history"]]
    threads = cfg.get("threads", 1)
    notes = [
        f"Fine-tuning (train → dev macro-F1, noisy dev labels): lr {cfg['lr']:g} × {len(by_epoch)} epochs "
        + " / ".join(_pct(x) for x in by_epoch)
        + f" by epoch, best at epoch {ft['best_epoch']} → lr {cfg['lr']:g}, {ft['best_epoch']} epochs. "
        f"Word-embedding matrix frozen, max {cfg['max_len']} tokens, batch {cfg['batch_size']}, label smoothing "
        f"{cfg['label_smoothing']:g}, label descriptions as extra examples ({threads} thread"
        f"{'' if threads == 1 else 's'}).",
    ]
    mix = (f"Mix on dev: fine-tuned alone {_pct(ft['dev_macro_f1'])}, linear selected row alone "
           f"{_pct(lin['dev_macro_f1'])}, w·p_fine-tuned + (1−w)·p_linear best at w = {plain['w']:g} with "
           f"{_pct(plain['dev_macro_f1'])} → w = {plain['w']:g}. (A prior correction p / prior^τ was also searched "
           f"on dev, which picked τ = {ens['tau']:g} with w = {ens['w']:g} ({_pct(ens['dev_macro_f1'])}); it is "
           "not used: the protocol fixed before scoring test was the weight alone.")
    if "full" in res:
        full = res["full"]
        mix += (f" For the record, in this study run (both models refitted on train+dev) test_public gave "
                f"{_pct(full['ensemble_test_macro_f1'])} with τ = {ens['tau']:g} against "
                f"{_pct(full['ensemble_no_tau_test_macro_f1'])} for the weight-only mix.")
    notes.append(mix + ")")
    return notes


def record_finetune_study(res: dict[str, Any], *, command: str, path: str | Path | None = None) -> Path:
    """Write one study run into the notebook's ``"finetune"`` section; returns the file written.

    Args:
        res: :func:`hotline.eval.benchmarks.cic_finetune.run`'s result; needs the finetune, linear and
            ensemble stages (the mix weight is chosen in the ensemble stage).
        command: The command line of the run, recorded beside the figures.
        path: The notebook (default: the shipped file). Its ``linear_cv`` section and the ``finetune.remarks``
            are kept; a missing file is created.
    """
    missing = [k for k in ("finetune", "linear", "ensemble") if k not in res]
    if missing:
        raise InvalidInputError(f"the study result has no {missing} stage(s); run with "
                                "--stages finetune,linear,ensemble[,full] to record the chosen settings")
    path = Path(path) if path is not None else study_path()
    old: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    ft, ens = res["finetune"], res["ensemble"]
    section: dict[str, Any] = {
        "command": command,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "protocol": (old.get("finetune") or {}).get("protocol", (
            "Both models trained on train.json only; every setting chosen on dev.json; the benchmark then refits "
            "both on train+dev with these settings and scores test_public once.")),
        "chosen": {"epochs": int(ft["best_epoch"]), "lr": float(res["config"]["lr"]),
                   "mix_weight": float(ens["no_tau"]["w"])},
        "dev_macro_f1": {"finetuned": round(float(ft["dev_macro_f1"]), 4),
                         "linear": round(float(res["linear"]["dev_macro_f1"]), 4),
                         "mix": round(float(ens["no_tau"]["dev_macro_f1"]), 4),
                         "finetuned_by_epoch": [h["dev_macro_f1"] for h in ft["history"]]},
        "prior_adjustment": {"tau": ens["tau"], "w": ens["w"], "dev_macro_f1": round(float(ens["dev_macro_f1"]), 4)},
        "config": res["config"],
        "notes": _notes(res),
        "remarks": list((old.get("finetune") or {}).get("remarks", [])),
    }
    if "full" in res:
        section["train_dev_test_public_macro_f1"] = {
            k: round(float(res["full"][k]), 4)
            for k in ("ft_test_macro_f1", "linear_test_macro_f1", "ensemble_no_tau_test_macro_f1",
                      "ensemble_test_macro_f1")}
    study = {**old, "finetune": section}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(study, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
