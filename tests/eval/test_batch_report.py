"""The batch report: built from hand-made analyze outputs, self-contained, and its charts render in chromium."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from hotline.core.errors import InvalidInputError
from hotline.eval.batch_report import write_report
from hotline.pipeline.batch.hotspots import HOTSPOT_COLUMNS

CHART_IDS = ["chart-region-hour", "chart-category-trend", "chart-qa-flags", "chart-qa-agents", "chart-incidents",
             "chart-gaps"]


def _flag(name: str, passed: bool, turn: int | None = 0) -> dict:
    return {"flag": name, "passed": passed, "turn": turn, "evidence": "您好，工号1086为您服务", "component": None}


def _record(i: int, *, label: str | None, region: str, date: str, hour: int, agent: str, passed: bool) -> dict:
    flags = [_flag("greeting", passed), _flag("addressed_by_surname", True, 2), _flag("apologized", i % 2 == 0, 4),
             _flag("forbidden_phrase", True, None), _flag("closing", passed, 9)]
    return {"call_id": f"c-{i:03d}", "label": label, "service": label.split(".")[0] if label else None,
            "phenomenon": None, "confidence": 0.9, "abstain": False, "level": "leaf", "is_complaint": label is not None,
            "region": region, "sub_area": None, "started_at": f"{date}T{hour:02d}:05:00+08:00", "date": date,
            "hour": hour, "agent_id": agent, "team": "杭州一组", "customer": {}, "caller": None, "slots": {},
            "missing_fields": [], "qa": {"passed": passed, "flags": flags}, "escalation": i % 5 == 0,
            "escalation_level": "none", "escalation_reason": None, "escalation_turn": None, "escalation_reasons": [],
            "grade": "紧急" if i % 5 == 0 else "普通", "grade_reasons": [], "time_limit_h": 24.0, "deadline": None,
            "repeat_of": "c-000" if i == 7 else None, "mass_incident": i < 4, "onset": None, "kb_gaps": [],
            "evidence": [0], "n_turns": 10, "turns": [{"speaker": "customer", "text": "<script>alert(1)</script>"}]}


def _write_outputs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    labels = ["broadband.cannot_connect", "mobile_network.no_signal", None]
    regions = ["杭州市西湖区", "杭州市余杭区", "宁波市鄞州区"]
    records = [_record(i, label=labels[i % 3], region=regions[i % 3], date=f"2026-11-0{1 + i % 2}", hour=8 + i % 5,
                       agent=f"A{i % 3:03d}", passed=i % 4 != 0) for i in range(18)]
    with (out / "calls.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "incidents.jsonl").write_text(json.dumps({
        "type": "mass_incident", "code": "broadband.cannot_connect", "region": "杭州市西湖区",
        "call_ids": ["c-000", "c-003"], "first": "2026-11-01T08:05:00+08:00", "last": "2026-11-01T09:05:00+08:00",
        "family": "broadband", "sub_area": "文三路"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "gaps.jsonl").write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in [
        {"id": "gap-0001", "question": "宽带欠费停机以后多久能恢复<b>?</b>", "count": 6, "estimated_total": 6,
         "category": "broadband.cannot_connect", "category_share": 0.8, "examples": ["宽带欠费停机多久恢复"],
         "example_call_ids": ["c-001"], "status": "proposed"},
        {"id": "gap-0002", "question": "国际漫游包可以叠加吗", "count": 3, "estimated_total": 3, "category": None,
         "category_share": 0.0, "examples": [], "example_call_ids": [], "status": "proposed"}]), encoding="utf-8")
    rate = {"calls": 6, "passed": 4, "pass_rate": 0.6667, "verdict": "individual"}
    (out / "qa.json").write_text(json.dumps({
        "flags": [{"flag": f, "calls": 18, "passed": p, "pass_rate": round(p / 18, 4)} for f, p in
                  [("greeting", 13), ("addressed_by_surname", 18), ("apologized", 9), ("forbidden_phrase", 18),
                   ("closing", 13)]],
        "calls_without_agent": 0,
        "agents": [{"agent_id": f"A{a:03d}", "team": "杭州一组", "calls": 6, "pass_rate": 0.5 + a / 10,
                    "flags": [{"flag": "greeting", **rate}]} for a in range(3)],
        "teams": [{"team": "杭州一组", "calls": 18, "agents": 3, "pass_rate": 0.6,
                   "flags": [{"flag": "apologized", "calls": 18, "passed": 9, "pass_rate": 0.5, "verdict": "team_wide",
                              "agents_below": ["A000"], "individual": []}]}]}, ensure_ascii=False), encoding="utf-8")
    with (out / "hotspots.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(HOTSPOT_COLUMNS))
        w.writeheader()
        w.writerow({"rank": 1, "date": "2026-11-02", "hour": 9, "granularity": "region", "level": "leaf",
                    "code": "broadband.cannot_connect", "name": "宽带断网", "region": "杭州市西湖区", "sub_area": "",
                    "count": 5, "baseline_mean": 0.5, "baseline_days": 1, "ratio": 10.0, "z": 6.4, "score": 12.0})
    (out / "summary.json").write_text(json.dumps({"n_calls": 18, "engine": "local", "calls_per_s": 120.5}),
                                      encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analyze_out")
    _write_outputs(out)
    return write_report(out)


def test_report_is_self_contained_and_escaped(report):
    page = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    # no resource is fetched from anywhere: no src/href to a URL, no CDN, plotly inline exactly once
    # plotly.js quotes URLs (map tiles, its logo link) it never loads here: look at the markup around the scripts
    markup = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", page, flags=re.S | re.I)
    tags = re.findall(r"<(?:script|link|img|iframe|a|source|embed)\b[^>]*>", markup, re.I)
    assert tags and not [t for t in tags if re.search(r"\b(?:src|href)\s*=", t, re.I)], tags[:5]
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", markup, re.I)
    assert not re.search(r"https?://", markup)
    assert page.count("plotly.js v") == 1  # the library inline, once
    assert sum(page.count(f'id="{c}"') for c in CHART_IDS) == len(CHART_IDS)
    # Chinese labels and the tables behind the charts, with the data escaped
    for text in ("地区 × 时段", "投诉类别趋势", "开场问候报工号", "群体性故障", "知识库缺口", "宽带·宽带断网", "杭州市西湖区"):
        assert text in page
    assert "宽带欠费停机以后多久能恢复&lt;b&gt;?&lt;/b&gt;" in page
    assert "<script>alert(1)</script>" not in page


def test_report_needs_analyze_outputs(tmp_path):
    with pytest.raises(InvalidInputError, match="hotline analyze"):
        write_report(tmp_path)


def test_report_with_no_complaints_says_so(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"n_calls": 0}), encoding="utf-8")
    (tmp_path / "calls.jsonl").write_text("", encoding="utf-8")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "无投诉通话" in page and "未发现群体性故障" in page
    assert "chart-region-hour" not in page


@pytest.mark.browser
def test_report_charts_render_in_chromium(report, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {len(CHART_IDS)}",
                               timeout=30_000)
        for chart_id in CHART_IDS:
            n_svg = page.locator(f"#{chart_id} .main-svg").count()
            assert n_svg >= 1, f"chart {chart_id} drew no .main-svg"
        heat = page.locator("#chart-region-hour .heatmaplayer image, #chart-region-hour .hm").count()
        bars = page.locator("#chart-qa-flags .bars .point").count()
        assert heat >= 1 and bars == 5
        assert not errors, errors
        assert all(u.startswith("file:") for u in requests), requests
    finally:
        page.close()
