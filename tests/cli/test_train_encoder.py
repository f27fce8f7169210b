"""``hotline train encoder`` and ``hotline bench encoders``: bad input exits 2 with a message naming the fix."""

from __future__ import annotations

from hotline.cli import main
from hotline.core.resources import data_path


def test_train_encoder_refuses_a_check_set(tmp_path, capsys):
    code = main(["--home", str(tmp_path / "home"), "train", "encoder", "--kb",
                 str(data_path("checks", "retrieval_kb.jsonl")), "--out", str(tmp_path / "enc")])
    assert code == 2 and "check sets" in capsys.readouterr().err
    assert not (tmp_path / "enc").exists()


def test_train_encoder_rejects_bad_hyperparameters(tmp_path, capsys):
    code = main(["--home", str(tmp_path / "home"), "train", "encoder", "--kb", str(data_path("kb", "faq.jsonl")),
                 "--out", str(tmp_path / "enc"), "--batch-size", "1"])
    assert code == 2 and "batch_size must be >= 2" in capsys.readouterr().err


def test_bench_encoders_rejects_an_unknown_encoder(tmp_path, capsys):
    code = main(["--home", str(tmp_path / "home"), "bench", "encoders", "--encoders", "bert"])
    assert code == 2 and "encoder must be one of" in capsys.readouterr().err
