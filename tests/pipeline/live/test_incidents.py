"""Mass-incident detection: threshold, one incident per burst, sliding window, votes that move."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.results import Incident
from hotline.pipeline.live.incidents import IncidentDetector

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
CODE = "broadband.cannot_connect"
REGION = "杭州市西湖区"


def _feed(det: IncidentDetector, n: int, *, start: int = 0, code: str = CODE, region: str = REGION,
          t0: datetime = T0, step_min: float = 1.0) -> list[Incident]:
    raised = []
    for i in range(start, start + n):
        inc = det.observe(f"c{i}", code, region, t0 + timedelta(minutes=step_min * (i - start)))
        if inc is not None:
            raised.append(inc)
    return raised


def test_below_threshold_raises_nothing():
    det = IncidentDetector(threshold=10, window_min=30)
    assert _feed(det, 9) == []
    assert det.all() == [] and det.active(T0 + timedelta(minutes=9)) == []


def test_threshold_raises_exactly_one():
    det = IncidentDetector(threshold=10, window_min=30)
    raised = _feed(det, 10)
    assert len(raised) == 1
    inc = raised[0]
    assert inc.code == CODE and inc.region == REGION and inc.type == "mass_incident"
    assert inc.call_ids == [f"c{i}" for i in range(10)] and inc.status == "open"
    assert inc.first == T0.isoformat() and inc.last == (T0 + timedelta(minutes=9)).isoformat()


def test_later_calls_join_the_open_incident():
    det = IncidentDetector(threshold=10, window_min=30)
    raised = _feed(det, 15)
    assert len(raised) == 1
    (inc,) = det.all()
    assert inc.call_ids == [f"c{i}" for i in range(15)]
    assert inc.count == 15 and inc.status is None  # all() without a time: no status
    assert inc.last == (T0 + timedelta(minutes=14)).isoformat()
    assert len(det.active(T0 + timedelta(minutes=20))) == 1


@pytest.mark.parametrize("other", [{"region": "宁波市"}, {"code": "data.slow"}])
def test_other_region_or_code_does_not_count(other):
    det = IncidentDetector(threshold=10, window_min=30)
    _feed(det, 9)
    assert _feed(det, 5, start=100, t0=T0 + timedelta(minutes=9), **other) == []
    assert det.all() == []


def test_calls_outside_the_window_do_not_count():
    det = IncidentDetector(threshold=10, window_min=30)
    assert _feed(det, 10, step_min=4) == []  # 10 calls over 36 minutes: never 10 inside 30 minutes


def test_inquiries_and_abstained_calls_never_count():
    det = IncidentDetector(threshold=3, window_min=30)
    for i in range(5):
        assert det.observe(f"q{i}", "inquiry.billing_info", REGION, T0) is None
        assert det.observe(f"a{i}", None, REGION, T0) is None
    assert det.all() == []


def test_a_call_counts_once_and_reclassification_moves_its_vote():
    det = IncidentDetector(threshold=3, window_min=30)
    for _ in range(5):
        assert det.observe("same", CODE, REGION, T0) is None
    assert det.observe("c1", CODE, REGION, T0) is None
    # "same" is re-classified: its vote leaves CODE, so c2 makes only 2 of 3
    assert det.observe("same", "data.slow", REGION, T0) is None
    assert det.observe("c2", CODE, REGION, T0) is None
    inc = det.observe("c3", CODE, REGION, T0)
    assert inc is not None and inc.call_ids == ["c1", "c2", "c3"]


def test_after_a_quiet_window_a_new_burst_raises_a_new_incident():
    det = IncidentDetector(threshold=10, window_min=30)
    assert len(_feed(det, 10)) == 1
    later = T0 + timedelta(minutes=9 + 31)
    assert det.active(later) == []
    assert det.all(later)[0].status == "closed"
    raised = _feed(det, 10, start=100, t0=later)
    assert len(raised) == 1 and raised[0].call_ids[0] == "c100"
    assert len(det.all()) == 2


def test_bad_arguments_are_named():
    with pytest.raises(InvalidInputError, match="threshold"):
        IncidentDetector(threshold=0)
    with pytest.raises(InvalidInputError, match="at must carry a UTC offset"):
        IncidentDetector().observe("c", CODE, REGION, "2024-05-01T09:00:00")
