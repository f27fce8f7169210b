"""Repeat callers: keyed phone hashes, same problem family within 7 days, a bounded window."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.batch.repeats import REPEAT_KEY_FILE, RepeatDetector, caller_key, load_repeat_key

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)
KEY = b"k" * 32


def test_caller_key_is_keyed_and_reads_numbers_as_said():
    k = caller_key("13812345678", KEY)
    assert k == caller_key("+86 138-1234-5678", KEY) == caller_key("幺三八一二三四五六七八", KEY)
    assert len(k) == 32 and "13812345678" not in k
    assert caller_key("13812345678", b"j" * 32) != k  # another key, another hash: not a plain digest
    assert caller_key("13812345679", KEY) != k
    assert caller_key("138****5678", KEY) is None and caller_key(None, KEY) is None and caller_key("123", KEY) is None


def test_same_family_within_seven_days_is_a_repeat_of_the_latest_earlier_call():
    det = RepeatDetector()
    a, b = caller_key("13812345678", KEY), caller_key("13900001111", KEY)
    seen = [
        det.observe("c1", a, T0, "broadband.cannot_connect", True),
        det.observe("c2", b, T0 + timedelta(hours=1), "broadband.slow", True),  # another caller
        det.observe("c3", a, T0 + timedelta(days=1), "broadband.slow", True),  # same family as c1
        det.observe("c4", a, T0 + timedelta(days=2), "billing.invoice", True),  # another problem
        det.observe("c5", a, T0 + timedelta(days=3), "broadband.iptv", True),  # family again: after c3
        det.observe("c6", a, T0 + timedelta(days=4), "billing.unexpected_charge", True),  # same service as c4
        det.observe("c7", a, T0 + timedelta(days=5), "inquiry.billing_info", False),  # not a complaint
        det.observe("c8", None, T0 + timedelta(days=5), "broadband.slow", True),  # no caller known
    ]
    assert seen == [None, None, "c1", None, "c3", "c4", None, None]
    rates = {r["label"]: r for r in det.rates()}
    assert rates["broadband.slow"] == {"label": "broadband.slow", "calls": 2, "repeats": 1, "repeat_rate": 0.5}
    assert "inquiry.billing_info" not in rates and rates["broadband.cannot_connect"]["repeats"] == 0


def test_an_earlier_call_more_than_seven_days_back_does_not_count_and_leaves_the_window():
    det = RepeatDetector()
    a = caller_key("13812345678", KEY)
    assert det.observe("c1", a, T0, "voice.cannot_call", True) is None
    assert det.observe("c2", a, T0 + timedelta(days=7), "coverage.outage", True) == "c1"  # exactly 7 days: counts
    assert det.observe("c3", a, T0 + timedelta(days=14, seconds=1), "voice.call_drop", True) is None
    for i in range(100):  # other callers, weeks later: only the last week stays in memory
        det.observe(f"d{i}", caller_key(f"1390000{i:04d}", KEY), T0 + timedelta(days=30 + i / 10), "sms.spam", True)
    assert len(det) < 100 and len(det._by_caller) == len(det)
    with pytest.raises(InvalidInputError, match="feed RepeatDetector in started_at order"):
        det.observe("late", a, T0, "voice.cannot_call", True)


def test_repeat_key_from_settings_or_a_file_made_once(tmp_path):
    assert load_repeat_key(Settings(home=tmp_path, repeat_key="s" * 20)) == b"s" * 20
    with pytest.raises(ArtifactError, match="at least 16"):
        load_repeat_key(Settings(home=tmp_path, repeat_key="short"))
    home = tmp_path / "home"
    with ThreadPoolExecutor(4) as pool:  # several workers at once agree on one key
        keys = set(pool.map(lambda _: load_repeat_key(Settings(home=home)), range(8)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    path = home / REPEAT_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == [REPEAT_KEY_FILE]  # no temp files left behind
    assert load_repeat_key(Settings(home=home)) == path.read_text().strip().encode()
