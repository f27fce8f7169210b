"""Readers of the research datasets: where they are looked for, what they return, what a bad file says."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError
from hotline.eval.benchmarks.datasets import (
    default_datasets_dir,
    load_cic,
    load_cic_splits,
    read_sts_pairs,
    require_datasets_dir,
)


def test_default_is_the_env_variable_else_shared_beside_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_DATASETS_DIR", raising=False)
    work = tmp_path / "repo"
    work.mkdir()
    monkeypatch.chdir(work)
    assert default_datasets_dir() == (tmp_path / "shared" / "datasets").resolve()
    monkeypatch.setenv("HOTLINE_DATASETS_DIR", str(tmp_path / "elsewhere"))
    assert default_datasets_dir() == (tmp_path / "elsewhere").resolve()


def test_a_missing_folder_or_file_says_where_it_looked_and_how_to_point_elsewhere(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_DATASETS_DIR", raising=False)
    with pytest.raises(InvalidInputError) as err:
        require_datasets_dir(tmp_path / "nope")
    msg = str(err.value)
    assert "nope" in msg and "--datasets" in msg and "HOTLINE_DATASETS_DIR" in msg and "current directory" in msg
    with pytest.raises(InvalidInputError, match="labels.json.*HOTLINE_DATASETS_DIR"):
        load_cic_splits(tmp_path)


def test_cic_splits_and_the_benchmark_view(fake_datasets):
    s = load_cic_splits(fake_datasets)
    assert s.classes == ["0", "1", "2"] and s.label_des["1"] == "物流查询"
    assert len(s.train[0]) == 12 and len(s.dev[0]) == 3 and len(s.test[0]) == 3
    assert s.train[1][:4] == ["0"] * 4  # labels are strings
    data = load_cic(fake_datasets)
    assert data.train_texts == s.train[0] + s.dev[0] and data.test_labels == s.test[1]
    small = load_cic(fake_datasets, smoke=True, seed=1)
    assert sorted(small.train_texts) == sorted(data.train_texts)  # fewer rows than the sample size: all of them
    assert small.train_texts != data.train_texts or small.test_texts != data.test_texts  # but shuffled


def test_sts_pairs_and_their_errors(fake_datasets):
    a, b, y = read_sts_pairs(fake_datasets, "AFQMC")
    assert a[0] == "快递到哪了" and b[1] == "怎么退货" and y.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(InvalidInputError, match="AFQMC.*LCQMC"):
        read_sts_pairs(fake_datasets, "STSB")
    (fake_datasets / "LCQMC" / "test.txt").write_text("只有一列\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="test.txt:1: expected"):
        read_sts_pairs(fake_datasets, "LCQMC")
