"""The CLI contract, end to end on small data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hotline.core.jsonl import write_jsonl


def run_cli(*args, home):
    proc = subprocess.run([sys.executable, "-m", "hotline", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=600)
    return proc


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, tiny_corpus):
    d = tmp_path_factory.mktemp("cli")
    rows = [{"text": r["text"], "label": r["label"]} for r in tiny_corpus]
    train = [r for i, r in enumerate(rows) if i % 5]
    test = [r for i, r in enumerate(rows) if not i % 5]
    write_jsonl(train, d / "train.jsonl")
    write_jsonl(test, d / "test.jsonl")
    kb = [
        {"id": "a1", "question": "宽带断网怎么办", "answer": "请重启光猫和路由器，仍不行我们派装维上门。", "category": "broadband.cannot_connect"},
        {"id": "a2", "question": "话费扣多了怎么办", "answer": "我们帮您查询详单，核实后退还多扣的费用。", "category": "billing.unexpected_charge",
         "similar": ["为什么多扣我钱", "话费怎么突然多了"]},
        {"id": "a3", "question": "手机没有信号怎么办", "answer": "请重启手机或开关飞行模式，我们会核查附近基站。", "category": "coverage.weak_signal"},
    ]
    write_jsonl(kb, d / "kb.jsonl")
    write_jsonl([{"query": "家里网断了连不上", "relevant": ["a1"]}, {"query": "这个月被多扣了好多话费", "relevant": ["a2"]},
                 {"query": "今天天气怎么样适合去爬山吗", "relevant": []}], d / "queries.jsonl")
    return d


@pytest.mark.slow  # trains a real classifier in a subprocess
def test_train_then_eval_classify(small_data, tmp_path):
    out = tmp_path / "clf"
    p = run_cli("train", "classify", "--data", str(small_data / "train.jsonl"), "--out", str(out),
                "--builder", "complaint.tfidf_lr.v1", home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (out / "meta.json").is_file()
    p = run_cli("eval", "classify", "--data", str(small_data / "test.jsonl"), "--model", str(out), home=tmp_path)
    assert p.returncode == 0, p.stderr
    m = last_json(p.stdout)
    assert {"n", "accuracy", "macro_f1", "top3_accuracy", "service_accuracy"} <= set(m)
    assert m["n"] > 0 and m["accuracy"] > 0.5


def test_index_build_then_eval_retrieve(small_data, tiny_home, tmp_path):
    out = tmp_path / "idx"
    p = run_cli("index", "build", "--kb", str(small_data / "kb.jsonl"), "--out", str(out), home=tiny_home.home)
    assert p.returncode == 0, p.stderr
    assert (out / "category.npz").is_file()  # entry category profiles from the home's classifier
    p = run_cli("eval", "retrieve", "--data", str(small_data / "queries.jsonl"), "--index", str(out),
                home=tiny_home.home)
    assert p.returncode == 0, p.stderr
    m = last_json(p.stdout)
    assert {"n", "recall@1", "recall@5", "mrr@10", "no_answer_accuracy", "answerable_abstain_rate"} <= set(m)
    assert m["n"] == 3 and m["recall@5"] == 1.0


def test_assist_prints_json(tiny_home):
    p = run_cli("assist", "我家宽带连不上了光猫亮红灯", home=tiny_home.home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["label"].startswith("broadband.") and res["faqs"]


def test_bad_input_exits_2_with_message(tiny_home, tmp_path):
    p = run_cli("assist", "   ", home=tiny_home.home)
    assert p.returncode == 2 and "empty" in p.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "宽带", "label": "x"}\nnot json\n', encoding="utf-8")
    p = run_cli("train", "classify", "--data", str(bad), "--out", str(tmp_path / "o"), home=tmp_path)
    assert p.returncode == 2 and "bad.jsonl:2" in p.stderr
