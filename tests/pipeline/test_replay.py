"""Replay: validation naming the line, one JSON line per call in started_at order, then incidents."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.replay import read_calls, replay_calls

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)


def _call(i: int, minutes: float, *, region: str = "杭州市西湖区", turns=None) -> dict:
    return {"call_id": f"c{i:03d}", "region": region, "started_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            "turns": turns or [{"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
                               {"speaker": "customer", "text": "我家宽带从昨天晚上开始连不上了，光猫亮红灯"}]}


def _write(tmp_path, calls, name="calls.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    return path


def _replay(path, pipe, **settings) -> list[dict]:
    out = io.StringIO()
    replay_calls(path, Settings(**{"incident_threshold": 3, **settings}), out=out, pipeline=pipe)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_calls_in_started_at_order_then_one_incident(tmp_path, fake_pipeline, capsys):
    calls = [_call(1, 10), _call(0, 0), _call(2, 5), _call(3, 20, region="宁波市")]
    calls[0]["turns"].append({"speaker": "customer", "text": "我的电话是13812345678，住在西湖区文三路100号"})
    calls[2]["turns"].append({"speaker": "customer", "text": "再修不好我就去工信部投诉"})
    calls.append({"call_id": "c004", "region": "杭州市西湖区", "started_at": (T0 + timedelta(minutes=1)).isoformat(),
                  "turns": [{"speaker": "customer", "text": "请问我的话费余额还剩多少，帮我查询一下"}]})
    lines = _replay(_write(tmp_path, calls), fake_pipeline)
    assert capsys.readouterr().out == ""  # everything went to `out`
    per_call, incidents = lines[:5], lines[5:]
    assert [c["call_id"] for c in per_call] == ["c000", "c004", "c002", "c001", "c003"]
    assert set(per_call[0]) == {"call_id", "label", "service", "confidence", "abstain", "slots", "escalation"}
    # every field kind the handling specs ask for, filled or null
    assert {"phone", "location", "device", "fault_time", "amount", "billing_month", "sp_name"} <= set(per_call[0]["slots"])
    c1 = per_call[3]
    assert c1["label"] == "broadband.cannot_connect"
    assert c1["slots"]["phone"] == "13812345678" and "文三路" in c1["slots"]["location"]
    assert c1["slots"]["fault_time"] and c1["slots"]["device"] == "光猫"
    assert {k: v for k, v in per_call[4]["slots"].items() if v is not None} == {"device": "光猫", "fault_time": "昨天晚上"}
    assert per_call[2]["escalation"] is True and per_call[0]["escalation"] is False
    assert per_call[1]["label"] == "inquiry.billing_info"
    assert incidents == [{"type": "mass_incident", "code": "broadband.cannot_connect", "region": "杭州市西湖区",
                          "call_ids": ["c000", "c002", "c001"], "first": T0.isoformat(),
                          "last": (T0 + timedelta(minutes=10)).isoformat(),
                          "family": "home_broadband", "sub_area": "文三路"}]


def test_no_incident_below_threshold_or_outside_window(tmp_path, fake_pipeline):
    lines = _replay(_write(tmp_path, [_call(0, 0), _call(1, 31), _call(2, 62)]), fake_pipeline)
    assert len(lines) == 3 and all("type" not in x for x in lines)


def test_many_calls_do_not_fill_the_engine(tmp_path, fake_pipeline):
    lines = _replay(_write(tmp_path, [_call(i, i) for i in range(30)]), fake_pipeline, max_calls=5)
    assert len([x for x in lines if "call_id" in x]) == 30
    (inc,) = [x for x in lines if x.get("type") == "mass_incident"]
    assert len(inc["call_ids"]) == 30


@pytest.mark.parametrize("line, message", [
    ("not json", ":1: not valid JSON"),
    ('{"call_id": "a", "region": "杭州", "turns": [{"speaker": "customer", "text": "断网"}]}', ":1: field 'started_at'"),
    ('{"call_id": "a", "started_at": "2024-05-01T09:00:00", "turns": [{"speaker": "customer", "text": "断网"}]}',
     "started_at must carry a UTC offset"),
    ('{"call_id": "a", "started_at": "2024-05-01T09:00:00+08:00", "turns": []}', "field 'turns'"),
    ('{"call_id": "a", "started_at": "2024-05-01T09:00:00+08:00", "turns": [{"speaker": "bot", "text": "断网"}]}',
     r"turns\[0\].speaker"),
    ('{"call_id": "a", "started_at": "2024-05-01T09:00:00+08:00", "turns": [{"speaker": "agent", "text": " "}]}',
     r"turns\[0\].text"),
    ('{"started_at": "2024-05-01T09:00:00+08:00", "turns": [{"speaker": "agent", "text": "好"}]}', "call_id"),
])
def test_bad_lines_are_named(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        read_calls(path)


def test_duplicate_ids_and_second_line_errors(tmp_path):
    path = _write(tmp_path, [_call(0, 0), _call(0, 1)])
    with pytest.raises(InvalidInputError, match=r"calls.jsonl:2: field 'call_id' = 'c000' already used on line 1"):
        read_calls(path)


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path):
    path = tmp_path / "calls.jsonl"
    good = json.dumps(_call(0, 0), ensure_ascii=False)
    path.write_text(f"\n{good}\n\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"calls.jsonl:4: expected a JSON object, got list"):
        read_calls(path)
    path.write_text(f"\n{good}\n\n", encoding="utf-8")
    (call,) = read_calls(path)
    assert call["_line"] == 2 and call["turns"][1]["speaker"] == "customer"
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_calls(tmp_path / "missing.jsonl")


def test_nothing_printed_when_the_file_is_bad(tmp_path, fake_pipeline):
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(_call(0, 0), ensure_ascii=False) + "\n{broken\n", encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(InvalidInputError, match=":2:"):
        replay_calls(path, Settings(), out=out, pipeline=fake_pipeline)
    assert out.getvalue() == ""


def test_real_pipeline_replay(tmp_path, tiny_home, tiny_pipeline):
    calls = [_call(i, i, turns=[{"speaker": "customer", "text": "我家宽带从昨天晚上开始连不上了，光猫一直亮红灯"},
                                {"speaker": "customer", "text": "我的手机号是13812345678"}]) for i in range(4)]
    out = io.StringIO()
    summary = replay_calls(_write(tmp_path, calls), tiny_home.model_copy(update={"incident_threshold": 4}), out=out,
                           pipeline=tiny_pipeline)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert summary == {"calls": 4, "incidents": 1}
    assert lines[0]["label"] == "broadband.cannot_connect" and lines[0]["slots"]["phone"] == "13812345678"
    assert lines[-1]["type"] == "mass_incident" and lines[-1]["call_ids"] == ["c000", "c001", "c002", "c003"]
