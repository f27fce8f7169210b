"""The batch analysis report: ``DIR/report.html`` from the outputs ``hotline analyze`` wrote to ``DIR``.

One self-contained page (opens offline: plotly's JavaScript is embedded once, inline; no CDN, no external
URL in any ``src`` or ``href``), Chinese labels, and the charts with the tables behind them:

1. 地区 × 时段热力图 — complaint calls per region (top :data:`_TOP_REGIONS`) and hour of day (UTC+8);
2. 投诉类别趋势 — calls per category (top :data:`_TOP_LABELS`) per day, or per hour when the input spans one day;
3. 质检通过率 — pass rate per QA flag, and per agent (all flags passed; the lowest :data:`_TOP_AGENTS`);
4. 群体性故障时间线 — each mass incident from its first to its last call;
5. 知识库缺口 — the largest clusters of unanswered customer questions (proposed FAQ drafts);
6. 热点排行 — the top rows of ``hotspots.csv`` (table only).

Inputs (any may be absent or empty; its section then says so): ``calls.jsonl`` (streamed: only counters stay
in memory), ``qa.json``, ``incidents.jsonl``, ``gaps.jsonl``, ``hotspots.csv``, ``summary.json``.

Example:
    >>> write_report("out")  # doctest: +SKIP
    PosixPath('out/report.html')
"""

from __future__ import annotations

import csv
import html
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["write_report", "REPORT_HTML", "QA_FLAG_NAMES"]

logger = logging.getLogger(__name__)

REPORT_HTML = "report.html"
QA_FLAG_NAMES = {"greeting": "开场问候报工号", "addressed_by_surname": "姓氏尊称", "apologized": "致歉",
                 "forbidden_phrase": "无服务禁语", "closing": "规范结束语"}
_TOP_REGIONS = 20
_TOP_LABELS = 8
_TOP_AGENTS = 30
_TOP_GAPS = 15
_TOP_HOTSPOTS = 20
_FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif"


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{path}:{n}: not valid JSON ({e.msg}); re-run `hotline analyze` to "
                                        "rewrite the outputs") from None


def _json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}: not valid JSON ({e.msg}); re-run `hotline analyze`") from None


class _Names:
    """Chinese names of taxonomy codes (服务 · 现象)."""

    def __init__(self) -> None:
        from hotline.core.taxonomy import default_taxonomy

        self.tax = default_taxonomy()

    def label(self, code: str | None) -> str:
        if not code:
            return "非投诉/未判定"
        if code in self.tax:
            e = self.tax[code]
            return f"{e.service}·{e.phenomenon}"
        return code


def _calls_counters(path: Path) -> dict[str, Any]:
    """One pass over ``calls.jsonl``: the counters every chart needs."""
    region_hour: Counter[tuple[str, int]] = Counter()
    trend_day: Counter[tuple[str, str]] = Counter()
    trend_hour: Counter[tuple[str, int]] = Counter()
    labels: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    days: set[str] = set()
    n = escalations = repeats = 0
    for r in _jsonl(path):
        n += 1
        label = r.get("label") if r.get("is_complaint") else None
        hour = r.get("hour")
        date = r.get("date")
        if date:
            days.add(date)
        grades[str(r.get("grade") or "")] += 1
        escalations += bool(r.get("escalation"))
        repeats += r.get("repeat_of") is not None
        if label is None:
            continue
        labels[label] += 1
        if isinstance(hour, int):
            region_hour[(r.get("region") or "未知地区", hour)] += 1
            trend_hour[(label, hour)] += 1
        if date:
            trend_day[(label, date)] += 1
    return {"n": n, "region_hour": region_hour, "trend_day": trend_day, "trend_hour": trend_hour, "labels": labels,
            "grades": grades, "days": sorted(days), "escalations": escalations, "repeats": repeats}


# -- charts -------------------------------------------------------------------------------------------------
def _layout(fig: Any, title: str, height: int = 420) -> Any:
    fig.update_layout(title={"text": title, "x": 0.01}, height=height, font={"family": _FONT, "size": 12},
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white")
    return fig


def _heatmap(c: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    per_region: Counter[str] = Counter()
    for (region, _), k in c["region_hour"].items():
        per_region[region] += k
    regions = [r for r, _ in per_region.most_common(_TOP_REGIONS)][::-1]  # largest at the top
    hours = list(range(24))
    z = [[c["region_hour"].get((r, h), 0) for h in hours] for r in regions]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{h}时" for h in hours], y=regions, colorscale="YlOrRd",
                               colorbar={"title": "投诉量"},
                               hovertemplate="%{y} %{x}: %{z} 通<extra></extra>"))
    fig.update_xaxes(title_text="时段 (北京时间)")
    return _layout(fig, "地区 × 时段 投诉热力图", height=max(360, 28 * len(regions) + 120)), (regions, hours, z)


def _trend(c: dict[str, Any], names: _Names) -> Any:
    import plotly.graph_objects as go

    top = [code for code, _ in c["labels"].most_common(_TOP_LABELS)]
    by_day = len(c["days"]) > 1
    xs: list[Any] = c["days"] if by_day else list(range(24))
    counts = c["trend_day"] if by_day else c["trend_hour"]
    fig = go.Figure()
    rows = []
    for code in top:
        ys = [counts.get((code, x), 0) for x in xs]
        rows.append((names.label(code), ys))
        fig.add_trace(go.Scatter(x=xs if by_day else [f"{x}时" for x in xs], y=ys, mode="lines+markers",
                                 name=names.label(code)))
    fig.update_xaxes(title_text="日期" if by_day else "时段 (北京时间)")
    fig.update_yaxes(title_text="投诉量")
    return _layout(fig, f"投诉类别趋势 (按{'日' if by_day else '小时'}, 前 {len(top)} 类)"), (by_day, xs, rows)


def _qa_flags(qa: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    flags = qa.get("flags") or []
    x = [QA_FLAG_NAMES.get(f["flag"], f["flag"]) for f in flags]
    y = [f.get("pass_rate") or 0.0 for f in flags]
    fig = go.Figure(go.Bar(x=x, y=y, text=[f"{v:.0%}" for v in y], textposition="outside", marker_color="#2b7bba",
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_yaxes(title_text="通过率", range=[0, 1.1], tickformat=".0%")
    return _layout(fig, "质检通过率 (按检查项)", height=380)


def _qa_agents(qa: dict[str, Any]) -> Any:
    """Agents (the lowest :data:`_TOP_AGENTS` by all-flags pass rate) × flags: each cell a pass rate."""
    import plotly.graph_objects as go

    agents = sorted(qa.get("agents") or [], key=lambda a: (a.get("pass_rate", 0.0), a.get("agent_id", "")))
    shown = agents[:_TOP_AGENTS][::-1]  # the lowest at the top
    codes = [f["flag"] for f in qa.get("flags") or []]
    cols = ["全部通过", *[QA_FLAG_NAMES.get(c, c) for c in codes]]
    z, text = [], []
    for a in shown:
        per = {f["flag"]: f for f in a.get("flags") or []}
        row = [a.get("pass_rate"), *[per[c]["pass_rate"] if c in per else None for c in codes]]
        z.append(row)
        text.append(["—" if v is None else f"{v:.0%}" for v in row])
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=[f"{a['agent_id']} ({a.get('team') or '—'}, {a['calls']} 通)"
                                              for a in shown],
                               text=text, texttemplate="%{text}", zmin=0, zmax=1, colorscale="RdYlGn",
                               colorbar={"title": "通过率", "tickformat": ".0%"},
                               hovertemplate="%{y} %{x}: %{text}<extra></extra>"))
    return _layout(fig, f"坐席质检通过率 (按检查项, 最低 {len(shown)} 位)", height=max(360, 26 * len(shown) + 140))


def _incidents(incidents: list[dict[str, Any]], names: _Names) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, inc in enumerate(incidents, 1):
        y = f"#{i} {inc.get('region') or ''} {names.label(inc.get('code'))}"
        fig.add_trace(go.Scatter(x=[inc.get("first"), inc.get("last")], y=[y, y], mode="lines+markers",
                                 line={"width": 8}, name=y, showlegend=False,
                                 hovertemplate=f"{html.escape(y)}<br>%{{x}}<br>{len(inc.get('call_ids') or [])} 通"
                                               "<extra></extra>"))
    fig.update_xaxes(title_text="时间", type="date")
    return _layout(fig, "群体性故障时间线", height=max(300, 40 * len(incidents) + 140))


def _gaps(gaps: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    shown = gaps[:_TOP_GAPS][::-1]
    fig = go.Figure(go.Bar(x=[g.get("count", 0) for g in shown], y=[_short(g.get("question") or "", 28) for g in shown],
                           orientation="h", marker_color="#5a9e6f",
                           hovertemplate="%{y}: %{x} 个问题<extra></extra>"))
    fig.update_xaxes(title_text="未答问题数")
    return _layout(fig, f"知识库缺口 (前 {len(shown)} 个问题簇)", height=max(320, 26 * len(shown) + 120))


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# -- tables ---------------------------------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="empty">无数据</p>'
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"
    if isinstance(v, (list, tuple)):
        return "、".join(str(x) for x in v)
    return str(v)


def _pct(v: Any) -> str:
    return "—" if v is None else f"{float(v):.1%}"


_CSS = """
body{font-family:FONT;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{background:#f4f6f8;border-radius:6px;padding:10px 14px;min-width:120px}
.kpi b{display:block;font-size:20px}.table{max-height:360px;overflow:auto;margin:8px 0 16px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f6f8;position:sticky;top:0}.empty{color:#888}.chart{min-height:300px}
""".replace("FONT", _FONT)


def write_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` from the analyze outputs in ``out_dir``; returns its path.

    Raises:
        InvalidInputError: ``out_dir`` is not a folder of ``hotline analyze`` outputs, or one is malformed.
    """
    import plotly.io as pio

    out = Path(out_dir)
    if not (out / "calls.jsonl").is_file() and not (out / "summary.json").is_file():
        raise InvalidInputError(f"{str(out)!r} holds no `hotline analyze` outputs (calls.jsonl, summary.json); "
                                "run `hotline analyze --calls FILE --out DIR` first and pass that DIR")
    names = _Names()
    c = _calls_counters(out / "calls.jsonl")
    summary = _json(out / "summary.json") or {}
    qa = _json(out / "qa.json") or {}
    incidents = list(_jsonl(out / "incidents.jsonl"))
    gaps = list(_jsonl(out / "gaps.jsonl"))
    hotspots = _read_hotspots(out / "hotspots.csv")

    charts: list[str] = []

    def chart(fig: Any, div_id: str) -> str:
        # the first chart carries plotly.js inline (once); the others reuse it
        charts.append(div_id)
        return pio.to_html(fig, include_plotlyjs=len(charts) == 1, full_html=False, div_id=div_id,
                           config={"displaylogo": False, "responsive": True})

    parts: list[str] = []
    kpis = [("通话数", c["n"]), ("投诉通话", sum(c["labels"].values())), ("升级风险", c["escalations"]),
            ("重复来电", c["repeats"]), ("群体性故障", len(incidents)), ("知识库缺口", len(gaps))]
    if summary.get("calls_per_s"):
        kpis.append(("处理速度 (通/秒)", summary["calls_per_s"]))
    parts.append('<div class="kpis">' + "".join(f'<div class="kpi">{html.escape(k)}<b>{html.escape(str(v))}</b></div>'
                                                for k, v in kpis) + "</div>")
    grades = [[g or "—", k] for g, k in sorted(c["grades"].items(), key=lambda kv: -kv[1])]
    parts.append("<h2>投诉分级</h2>" + _table(["等级", "通话数"], grades))

    parts.append("<h2>地区 × 时段</h2>")
    if c["region_hour"]:
        fig, (regions, hours, z) = _heatmap(c)
        parts.append(chart(fig, "chart-region-hour"))
        rows = [[r, sum(zr), *zr] for r, zr in zip(regions[::-1], z[::-1])]
        parts.append(_table(["地区", "合计", *[f"{h}时" for h in hours]], rows))
    else:
        parts.append('<p class="empty">无投诉通话</p>')

    parts.append("<h2>投诉类别趋势</h2>")
    if c["labels"]:
        fig, (by_day, xs, rows) = _trend(c, names)
        parts.append(chart(fig, "chart-category-trend"))
        parts.append(_table(["类别", *[str(x) if by_day else f"{x}时" for x in xs]], [[n, *ys] for n, ys in rows]))
        parts.append(_table(["类别", "代码", "通话数"], [[names.label(k), k, v] for k, v in c["labels"].most_common()]))
    else:
        parts.append('<p class="empty">无投诉通话</p>')

    parts.append("<h2>质检</h2>")
    if qa.get("flags"):
        parts.append(chart(_qa_flags(qa), "chart-qa-flags"))
        parts.append(_table(["检查项", "代码", "通话数", "通过", "通过率"],
                            [[QA_FLAG_NAMES.get(f["flag"], f["flag"]), f["flag"], f.get("calls"), f.get("passed"),
                              _pct(f.get("pass_rate"))] for f in qa["flags"]]))
    else:
        parts.append('<p class="empty">无质检结果</p>')
    if qa.get("agents"):
        parts.append(chart(_qa_agents(qa), "chart-qa-agents"))
        flag_codes = [f["flag"] for f in qa.get("flags") or []]
        rows = []
        for a in sorted(qa["agents"], key=lambda a: (a.get("pass_rate", 0.0), a.get("agent_id", ""))):
            per = {f["flag"]: f for f in a.get("flags") or []}
            rows.append([a["agent_id"], a.get("team"), a.get("calls"), _pct(a.get("pass_rate")),
                         *[f"{_pct(per[k]['pass_rate'])} ({per[k].get('verdict')})" if k in per else "—"
                           for k in flag_codes]])
        parts.append(_table(["坐席", "班组", "通话数", "全部通过", *[QA_FLAG_NAMES.get(k, k) for k in flag_codes]],
                            rows))
    if qa.get("teams"):
        parts.append(_table(["班组", "通话数", "坐席数", "全部通过", "低于目标的检查项 (团队普遍 / 个人)"],
                            [[t["team"], t.get("calls"), t.get("agents"), _pct(t.get("pass_rate")),
                              "；".join(f"{QA_FLAG_NAMES.get(f['flag'], f['flag'])}: {f.get('verdict')}"
                                       for f in t.get("flags") or [] if f.get("verdict") not in ("ok", None))]
                             for t in qa["teams"]]))

    parts.append("<h2>群体性故障</h2>")
    if incidents:
        parts.append(chart(_incidents(incidents, names), "chart-incidents"))
        parts.append(_table(["#", "地区", "片区", "类别", "首通", "末通", "通话数", "通话"],
                            [[i, inc.get("region"), inc.get("sub_area"), names.label(inc.get("code")), inc.get("first"),
                              inc.get("last"), len(inc.get("call_ids") or []), _short("、".join(inc.get("call_ids") or []), 120)]
                             for i, inc in enumerate(incidents, 1)]))
    else:
        parts.append('<p class="empty">未发现群体性故障</p>')

    parts.append("<h2>知识库缺口 (待审 FAQ 草稿)</h2>")
    if gaps:
        parts.append(chart(_gaps(gaps), "chart-gaps"))
        parts.append(_table(["编号", "代表问题", "问题数", "估计总数", "可能类别", "示例", "示例通话"],
                            [[g.get("id"), g.get("question"), g.get("count"), g.get("estimated_total"),
                              names.label(g.get("category")) if g.get("category") else "—", g.get("examples"),
                              g.get("example_call_ids")] for g in gaps]))
    else:
        parts.append('<p class="empty">无知识库缺口</p>')

    parts.append("<h2>热点排行</h2>")
    parts.append(_table(["排名", "日期", "时段", "层级", "名称", "地区", "片区", "数量", "基线均值", "倍数", "z"],
                        [[h.get("rank"), h.get("date"), h.get("hour"), h.get("granularity"), h.get("name"),
                          h.get("region"), h.get("sub_area"), h.get("count"), h.get("baseline_mean"),
                          h.get("ratio"), h.get("z")] for h in hotspots[:_TOP_HOTSPOTS]]))

    title = "批量通话分析报告"
    span = f"{c['days'][0]} — {c['days'][-1]}" if c["days"] else ""
    page = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
            f"<h1>{title}</h1><p>{html.escape(span)} · 引擎 {html.escape(str(summary.get('engine', '—')))}"
            f" · 共 {c['n']} 通</p>" + "\n".join(parts) + "</body></html>")
    path = out / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    logger.info("report with %d charts → %s", len(charts), path)
    return path


def _read_hotspots(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [dict(r) for r in csv.DictReader(f)]
