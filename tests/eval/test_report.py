"""The evaluation report on the tiny real models: files exist, plots inline, metric names present."""

from __future__ import annotations

import argparse
import json

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.resources import data_path
from hotline.eval.report import build_report, main


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def eval_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_inputs")
    labelled = [json.loads(line) for line in data_path("checks", "classify_handwritten.jsonl").read_text(
        encoding="utf-8").splitlines()[::12]]
    kb = [json.loads(line) for line in data_path("kb", "faq.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [{"query": e["similar"][-1], "relevant": [e["id"]]} for e in kb[::15] if e.get("similar")]
    queries += [{"query": q, "relevant": []} for q in ("今天天气怎么样，适合出去跑步吗", "帮我推荐一家好吃的川菜馆",
                                                        "这道数学题怎么解")]
    return _write_jsonl(d / "labelled.jsonl", labelled), _write_jsonl(d / "queries.jsonl", queries)


def test_report_writes_metrics_and_self_contained_html(tiny_home, eval_files, tmp_path):
    data, queries = eval_files
    out = tmp_path / "rep"
    m = build_report(tiny_home, data=data, queries=queries, out_dir=out)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    c, r = metrics["classification"], metrics["retrieval"]
    for key in ("accuracy", "macro_f1", "ece", "service_accuracy"):
        assert 0.0 <= c[key] <= 1.0, key
    assert set(c["top_k"]) == {"top1_accuracy", "top3_accuracy", "top5_accuracy"}
    assert c["top_k"]["top1_accuracy"] <= c["top_k"]["top3_accuracy"] <= c["top_k"]["top5_accuracy"]
    sc = c["service_confusion"]
    assert len(sc["matrix"]) == len(sc["labels"]) and sum(map(sum, sc["matrix"])) == c["n"]
    assert len(c["reliability"]) == 10 and "per_label" in c["thresholds"]
    for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10", "no_answer_accuracy"):
        assert r[key] is not None and 0.0 <= r[key] <= 1.0, key
    assert r["threshold"] == json.loads((tiny_home.index_dir / "meta.json").read_text(encoding="utf-8"))["threshold"]
    assert r["n_unanswerable"] == 3 and len(r["scores"]["unanswerable_confidence"]) == 3
    assert m["classification"]["n"] == c["n"]

    page = (out / "report.html").read_text(encoding="utf-8")
    # confusion matrix, reliability, two histograms (+ confused pairs when the model made mistakes)
    assert page.count("<svg") >= 4 + bool(c["confused_pairs"])
    for label in ("service-level confusion matrix", "reliability diagram", "confidence histogram", "top score histogram"):
        assert f'aria-label="{label}"' in page, label
    for name in ("macro_f1", "accuracy", "service_accuracy", "ece", "recall@5", "mrr@10", "ndcg@10",
                 "no_answer_accuracy", "no-answer threshold", "Reliability diagram", "abstain threshold"):
        assert name in page, name
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from outside


def test_report_with_queries_only_and_cli_summary(tiny_home, eval_files, tmp_path, capsys):
    _, queries = eval_files
    args = argparse.Namespace(data=None, queries=str(queries), model=None, index=None, out=str(tmp_path / "q"))
    assert main(args, tiny_home) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "retrieval" in summary and "classification" not in summary
    metrics = json.loads((tmp_path / "q" / "metrics.json").read_text(encoding="utf-8"))
    assert "classification" not in metrics
    assert "<svg" in (tmp_path / "q" / "report.html").read_text(encoding="utf-8")


def test_report_needs_some_input(tiny_home, tmp_path):
    with pytest.raises(InvalidInputError, match="data= .*queries="):
        build_report(tiny_home, out_dir=tmp_path)
    with pytest.raises(InvalidInputError, match="not found"):
        build_report(tiny_home, data=tmp_path / "missing.jsonl", out_dir=tmp_path)
