"""Notice board: validation naming the field, region containment, service/category and time matching."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.core.results import Notice, NoticeKind
from hotline.pipeline.live.notices import NoticeBoard, region_matches


def _notice(**over) -> dict:
    n = {"title": "西湖区光缆中断", "kind": "outage", "regions": ["杭州市"], "services": ["broadband"],
         "starts_at": "2024-05-01T08:00:00+08:00", "ends_at": "2024-05-01T20:00:00+08:00",
         "script": "您好，您所在区域光缆中断正在抢修，预计20点前恢复。"}
    n.update(over)
    return n


AT = "2024-05-01T09:00:00+08:00"


def test_add_get_list_delete():
    board = NoticeBoard()
    n = board.add(_notice())
    assert isinstance(n, Notice) and n.id and n.created_at and n.kind is NoticeKind.OUTAGE
    assert board.get(n.id).title == "西湖区光缆中断"
    assert [x.id for x in board.list()] == [n.id]
    assert board.list(active_only=True, at="2024-05-02T09:00:00+08:00") == []
    assert board.delete(n.id) == n
    with pytest.raises(NotFoundError):
        board.get(n.id)
    with pytest.raises(NotFoundError):
        board.delete(n.id)


def test_region_containment():
    assert region_matches("杭州市西湖区", "杭州市")
    assert region_matches("杭州市", "杭州市")
    assert not region_matches("杭州市", "杭州市西湖区")
    assert not region_matches("宁波市", "杭州市")
    assert not region_matches("", "杭州市")


def test_match_by_service_category_region_and_time():
    board = NoticeBoard()
    bb = board.add(_notice())
    slow = board.add(_notice(title="5G基站割接", kind="planned", regions=["杭州市西湖区"], services=[],
                             categories=["data.slow"]))
    assert [n.id for n in board.match("杭州市西湖区", "broadband.cannot_connect", AT)] == [bb.id]
    assert [n.id for n in board.match("杭州市西湖区", "data.slow", AT)] == [slow.id]
    assert board.match("杭州市滨江区", "data.slow", AT) == []  # data.slow notice is for 西湖区 only
    assert board.match("宁波市", "broadband.slow", AT) == []
    assert board.match("杭州市西湖区", "broadband.slow", "2024-05-01T20:00:00+08:00") == []  # ends_at exclusive
    assert board.match("杭州市西湖区", "broadband.slow", "2024-05-01T01:00:00Z") == [board.get(bb.id)]  # 09:00+08
    assert board.match("杭州市西湖区", None, AT) == []


def test_outages_listed_before_planned_works():
    board = NoticeBoard()
    board.add(_notice(kind="planned", title="计划割接"))
    board.add(_notice(kind="outage", title="突发故障", starts_at="2024-05-01T08:30:00+08:00"))
    assert [n.kind for n in board.match("杭州市", "broadband.slow", AT)] == ["outage", "planned"]


@pytest.mark.parametrize("over, field", [
    ({"ends_at": "2024-05-01T07:00:00+08:00"}, "ends_at"),
    ({"starts_at": "2024-05-01T08:00:00"}, "starts_at must carry a UTC offset"),
    ({"starts_at": "明天早上"}, "starts_at must be an ISO 8601"),
    ({"categories": ["broadband.nope"], "services": []}, r"categories\[0\]"),
    ({"services": ["tv"]}, r"services\[0\]"),
    ({"services": [], "categories": []}, "services"),
    ({"script": "  "}, "script"),
    ({"title": ""}, "title"),
    ({"regions": []}, "regions"),
    ({"kind": "rumour"}, "kind"),
])
def test_validation_names_the_field(over, field):
    with pytest.raises(InvalidInputError, match=field):
        NoticeBoard().add(_notice(**over))


def test_listeners_hear_adds_and_deletes():
    board = NoticeBoard()
    heard = []
    board.add_listener(lambda event, n: heard.append((event, n["title"])))  # listeners get the notice as a dict
    n = board.add(_notice())
    board.delete(n.id)
    assert heard == [("added", "西湖区光缆中断"), ("deleted", "西湖区光缆中断")]
