"""The CIC rows of the public benchmark: DataCLUE's metric, and the study notebook is what gets reported."""

from __future__ import annotations

import json

import pytest

from hotline.eval.benchmarks.cic import CIC_VARIANTS, _cic_metrics, _finetune_info, bench_cic, mix_name
from hotline.eval.benchmarks.cic_study import load_study
from hotline.eval.benchmarks.public import machine_info
from hotline.eval.benchmarks.render import render_public


def test_cic_macro_f1_follows_dataclue_protocol():
    # DataCLUE's compute_f1.py: labels = true ∪ predicted, so a predicted label absent from the test counts as 0
    m = _cic_metrics(["a", "a", "b"], ["a", "c", "b"])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["macro_f1_test_labels"] == pytest.approx((2 / 3 + 1) / 2)


def _report(cic: dict) -> str:
    results = {"machine": machine_info(), "smoke": False, "seconds": 1.0, "cic": cic,
               "sts": {"rows": [], "seconds": 0.0}, "faq": {"rows": [], "n_entries": 3, "n_queries": 3, "seconds": 0.0},
               "length": {"skipped": "no settings given", "rows": []}}
    return render_public(results)


def test_bench_cic_reports_the_notebook_it_is_given(fake_datasets, tmp_path):
    study = load_study()
    study["linear_cv"]["notes"] = ["C=7 beat C=3 by 0.4 (made-up note for this test)"]
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study, ensure_ascii=False), encoding="utf-8")
    tfidf = [v for v in CIC_VARIANTS if v.builder == "complaint.tfidf_lr.v1"]
    res = bench_cic(fake_datasets, variants=tfidf, finetune=False, study=path)
    assert res["cv_notes"] == study["linear_cv"]["notes"] and res["finetune"] is None
    assert res["n_train"] == 15 and res["n_test"] == 3 and 0.0 <= res["rows"][0]["macro_f1"] <= 1.0
    assert "- C=7 beat C=3 by 0.4 (made-up note for this test)" in _report(res)
    # by default, the shipped notebook
    assert bench_cic(fake_datasets, variants=tfidf, finetune=False)["cv_notes"] == load_study()["linear_cv"]["notes"]


def test_fine_tune_settings_and_notes_in_the_report_are_the_notebook_s():
    study = load_study()
    chosen = study["finetune"]["chosen"]
    info = _finetune_info(study, threads=2, max_len=64, batch_size=32, history=[])
    assert (info["epochs"], info["lr"], info["mix_weight"]) == (chosen["epochs"], chosen["lr"], chosen["mix_weight"])
    assert info["notes"] == study["finetune"]["notes"] + study["finetune"]["remarks"]
    row = {"name": mix_name(info["mix_weight"]), "selected": True, "accuracy": 0.9, "macro_f1": 0.8,
           "macro_f1_test_labels": 0.8, "micro_f1": 0.9, "n_train": 12000, "noisy_labels": None,
           "train_seconds": 600.0, "predict_seconds": 5.0}
    cic = {"rows": [row], "n_train": 12000, "n_test": 2000, "n_test_labels": 110, "n_labels": 118,
           "cv_notes": study["linear_cv"]["notes"], "finetune": info, "clean": None, "seconds": 700.0}
    text = _report(cic)
    assert f"({chosen['epochs']} epochs, lr {chosen['lr']:g}, 2 threads" in text
    assert f"({chosen['mix_weight']:g} / {1 - chosen['mix_weight']:g})" in text
    assert f"mix: {chosen['mix_weight']:g} × fine-tuned e5-small" in text
    assert study["finetune"]["command"] in text
    for note in study["finetune"]["notes"] + study["linear_cv"]["notes"]:
        assert f"- {note}" in text
