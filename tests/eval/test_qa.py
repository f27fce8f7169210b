"""``hotline eval qa``: per-flag agreement of the QA scorecards with hand labels."""

from __future__ import annotations

import json

import pytest

from hotline.cli import main
from hotline.core.errors import InvalidInputError
from hotline.eval.qa import evaluate_qa


def _call(call_id: str, agent_turns: list[str], qa: dict) -> dict:
    turns = []
    for text in agent_turns:
        turns += [{"speaker": "agent", "text": text}, {"speaker": "customer", "text": "嗯"}]
    return {"call_id": call_id, "turns": turns, "qa": qa}


ROWS = [
    _call("good", ["您好，工号2231，很高兴为您服务", "赵女士，实在抱歉给您添麻烦了", "还有别的可以帮您吗"],
          {"greeting": True, "addressed_by_surname": True, "apologized": True, "forbidden_phrase": False,
           "closing": True}),
    _call("rude", ["喂", "这个不归我们管", "嗯"],
          {"greeting": False, "addressed_by_surname": False, "apologized": False, "forbidden_phrase": True,
           "closing": False}),
    # the label says the agent apologised; the scorer reads no apology: one disagreement on one flag
    _call("mislabelled", ["您好，我是小吴", "好的", "感谢来电"],
          {"greeting": True, "apologized": True, "closing": True, "forbidden_phrase": None}),
]


def test_agreement_counts_each_labelled_flag_and_reads_forbidden_as_said():
    m = evaluate_qa(ROWS)
    assert m["n"] == 3
    assert m["agreement"]["greeting"] == 1.0 and m["agreement"]["forbidden_phrase"] == 1.0
    assert m["n_labelled"]["forbidden_phrase"] == 2 and m["n_labelled"]["addressed_by_surname"] == 2
    assert m["agreement"]["apologized"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["disagreements"]["apologized"] == ["mislabelled"]
    assert m["confusion"]["forbidden_phrase"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}
    assert m["min_agreement"] == m["agreement"]["apologized"]


def test_bad_labels_are_refused_with_the_call_named():
    with pytest.raises(InvalidInputError, match=r"line 1 \('x'\) has no 'qa' object"):
        evaluate_qa([{"call_id": "x", "turns": []}])
    with pytest.raises(InvalidInputError, match="'y': qa.greeting must be true, false or null"):
        evaluate_qa([_call("y", ["您好"], {"greeting": "yes"})])


def test_the_command_prints_the_metrics_last(tmp_path, capsys):
    data = tmp_path / "calls.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    assert main(["eval", "qa", "--data", str(data), "--out", str(tmp_path / "m.json")]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["disagreements"]["apologized"] == ["mislabelled"]
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["n"] == 3
