"""Tests for pipeline.slots.SlotExtractor: all four slots together, the stage shape and its speed."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.slots import SlotExtractor


def test_full_example(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract(
        "我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,回电幺三八一二三四五六七八",
        reference_time=ref,
    )
    assert set(slots) == {"phone", "location", "device", "fault_time"}
    assert slots["phone"]["value"] == "13812345678"
    assert slots["phone"]["masked"] == "138****5678"
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["device"]["value"] == "华为Mate60"
    assert slots["fault_time"]["value"] == "昨天晚上八点开始"
    assert slots["fault_time"]["resolved"] == "2026-11-19T20:00:00+08:00"


def test_nothing_found(ext: SlotExtractor, ref: datetime) -> None:
    assert ext.extract("你好,我想咨询一下", reference_time=ref) == {
        "phone": None,
        "location": None,
        "device": None,
        "fault_time": None,
    }


def test_bad_reference_time(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="reference_time must be a datetime or None, got str"):
        ext.extract("昨天", reference_time="2026-11-20")  # type: ignore[arg-type]


def test_traditional_and_full_width_input(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract("我家在杭州市西湖區文三路１００號，昨天晚上開始斷網", reference_time=ref)
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["fault_time"]["value"] == "昨天晚上开始"


# -- stage --------------------------------------------------------------------------------------
def test_run_equals_one_by_one(ext: SlotExtractor, ref: datetime) -> None:
    texts = ["华为Mate60昨天晚上八点开始没信号", "回电13812345678", "你好", "我家在杭州市西湖区"]
    out = ext.run(texts, reference_time=ref)
    assert out == {"slots": [ext.extract(t, reference_time=ref) for t in texts]}


def test_run_rejects_a_bare_string(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="list of str"):
        ext.run("昨天")  # type: ignore[arg-type]


def test_speed_per_utterance(ext: SlotExtractor, ref: datetime) -> None:
    text = "你好,我的手机号是13812345678,从昨天晚上开始一直没有信号,打了好几次10086都没人解决,太过分了"
    n = 500
    t0 = time.perf_counter()
    for _ in range(n):
        ext.extract(text, reference_time=ref)
    assert (time.perf_counter() - t0) / n * 1000 < 1.0
