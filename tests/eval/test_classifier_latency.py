"""eval.benchmarks.classifier_latency: per-utterance latency at batch 1 and 32 of a saved classifier."""

from __future__ import annotations

import json

from hotline.eval.benchmarks.classifier_latency import main, measure_latency
from hotline.models.classifier import ComplaintClassifier


def _tiny(tmp_path):
    texts = ["宽带断网了", "家里宽带连不上", "光猫亮红灯", "手机没信号", "信号很差", "打不了电话"] * 3
    labels = (["broadband.cannot_connect"] * 3 + ["coverage.weak_signal"] * 3) * 3
    clf = ComplaintClassifier(builder="complaint.tfidf_lr.v1", holdout=0.0).fit(texts, labels)
    return clf, clf.save(tmp_path / "clf"), texts


def test_measure_latency_reports_both_batch_sizes(tmp_path) -> None:
    clf, _, texts = _tiny(tmp_path)
    res = measure_latency(clf, texts, repeat=1)
    assert res["n_texts"] == len(texts) and res["ms_per_utterance_batch1"] > 0 and res["ms_per_utterance_batch32"] > 0


def test_cli_prints_json(tmp_path, capsys) -> None:
    _, folder, texts = _tiny(tmp_path)
    data = tmp_path / "texts.jsonl"
    data.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in texts), encoding="utf-8")
    assert main(["--model", str(folder), "--data", str(data), "--repeat", "1"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["builder"] == "complaint.tfidf_lr.v1" and res["n_texts"] == len(texts)
    assert res["torch_threads"] is None or res["torch_threads"] >= 1
