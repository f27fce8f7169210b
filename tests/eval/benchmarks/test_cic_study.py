"""The CIC lab notebook: the shipped file loads, a study run is recorded in it, bad files are refused."""

from __future__ import annotations

import json

import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.eval.benchmarks.cic_study import (
    FinetuneChoice,
    finetune_choice,
    load_study,
    record_finetune_study,
    study_path,
)


def _study_result(*, full: bool = True) -> dict:
    """The shape of ``cic_finetune.run()``'s result with the ensemble stage (figures made up)."""
    res = {
        "config": {"epochs": 4, "batch_size": 32, "max_len": 64, "lr": 1e-4, "head_lr": 2e-3, "weight_decay": 0.01,
                   "warmup": 0.06, "label_smoothing": 0.1, "dropout": 0.1, "label_des_repeat": 1,
                   "prefix": "query: ", "threads": 1, "seed": 0},
        "n_train": 10000, "n_dev": 2000, "n_test": 2000,
        "finetune": {"history": [{"epoch": e, "train_loss": 1.0 / e, "seconds": 60.0, "dev_macro_f1": f,
                                  "dev_accuracy": 0.5, "dev_seconds": 5.0}
                                 for e, f in ((1, 0.31), (2, 0.45), (3, 0.49), (4, 0.48))],
                     "best_epoch": 3, "dev_macro_f1": 0.49, "test_macro_f1": 0.7},
        "linear": {"variant": "linear", "dev_macro_f1": 0.5, "test_macro_f1": 0.72},
        "ensemble": {"w": 0.45, "tau": 0.5, "dev_macro_f1": 0.54, "ft_tau": 1.0, "ft_tau_dev_macro_f1": 0.5,
                     "test_macro_f1": 0.76, "ft_tau_test_macro_f1": 0.71,
                     "no_tau": {"w": 0.55, "tau": 0.0, "dev_macro_f1": 0.53, "test_macro_f1": 0.77}},
    }
    if full:
        res["full"] = {"epochs": 3, "history": [], "ft_test_macro_f1": 0.75, "linear_test_macro_f1": 0.74,
                       "ensemble_test_macro_f1": 0.78, "ensemble_no_tau_test_macro_f1": 0.79}
    return res


def test_shipped_notebook_holds_the_benchmark_settings():
    study = load_study()
    assert study_path().name == "cic_study.json" and study_path().is_file()
    assert finetune_choice(study) == FinetuneChoice(epochs=5, lr=1.5e-4, mix_weight=0.6)
    assert study["linear_cv"]["notes"] and study["finetune"]["notes"]
    assert all(isinstance(n, str) and n for n in study["linear_cv"]["notes"] + study["finetune"]["notes"])


def test_a_study_run_is_recorded_and_read_back(tmp_path):
    path = tmp_path / "study.json"
    shipped = load_study()
    shipped["finetune"]["remarks"] = ["kept across re-runs"]
    path.write_text(json.dumps(shipped, ensure_ascii=False), encoding="utf-8")

    assert record_finetune_study(_study_result(), command="python -m x --epochs 4", path=path) == path
    study = load_study(path)
    # the dev-chosen settings: best dev epoch, the run's lr, the weight-only mix (not the prior-adjusted one)
    assert finetune_choice(study) == FinetuneChoice(epochs=3, lr=1e-4, mix_weight=0.55)
    ft = study["finetune"]
    assert ft["command"] == "python -m x --epochs 4" and ft["remarks"] == ["kept across re-runs"]
    assert ft["dev_macro_f1"] == {"finetuned": 0.49, "linear": 0.5, "mix": 0.53,
                                  "finetuned_by_epoch": [0.31, 0.45, 0.49, 0.48]}
    assert ft["train_dev_test_public_macro_f1"]["ensemble_no_tau_test_macro_f1"] == 0.79
    assert study["linear_cv"] == shipped["linear_cv"]  # the other study's record is untouched
    assert "31.00 / 45.00 / 49.00 / 48.00" in ft["notes"][0] and "best at epoch 3" in ft["notes"][0]
    assert "w = 0.55 with 53.00" in ft["notes"][1] and "79.00 for the weight-only mix" in ft["notes"][1]


def test_a_run_without_the_ensemble_stage_is_not_recorded(tmp_path):
    res = _study_result()
    del res["ensemble"]
    with pytest.raises(InvalidInputError, match="ensemble"):
        record_finetune_study(res, command="x", path=tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_a_broken_notebook_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "study.json"
    with pytest.raises(ArtifactError, match="does not exist"):
        load_study(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_study(path)
    study = load_study()
    study["finetune"]["chosen"]["mix_weight"] = 1.5
    path.write_text(json.dumps(study), encoding="utf-8")
    with pytest.raises(ArtifactError, match="mix_weight"):
        load_study(path)
    del study["linear_cv"]
    path.write_text(json.dumps(study), encoding="utf-8")
    with pytest.raises(ArtifactError, match="linear_cv.notes"):
        load_study(path)
