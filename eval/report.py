"""Evaluation report: ``hotline eval report --data D --queries Q [--model DIR] [--index DIR] --out DIR``.

Writes ``DIR/metrics.json`` and a self-contained ``DIR/report.html`` (plots are inline SVG: no plotting
library, no external files, no fonts to ship). Axis labels are taxonomy codes (ASCII), so nothing renders as
tofu whatever fonts the reader has; Chinese names appear only in HTML tables, where the browser picks a font.

Classification (``--data``, ``{"text","label"}`` JSONL): accuracy, macro-F1, top-1/3/5, service accuracy,
per-class precision/recall/F1, most confused pairs, ECE with reliability bins, abstention at the model's
thresholds; plots: service-level confusion matrix, top confused leaf pairs, reliability diagram; table:
the per-category abstain thresholds from the classifier's ``meta.json``.

Retrieval (``--queries``, ``{"query","relevant"}`` JSONL; empty ``relevant`` = unanswerable): recall@1/5/10,
mrr@10, ndcg@10, no-answer accuracy and the score distributions; plots: histograms of the no-answer
confidence (with the fitted threshold from the index's ``meta.json``) and of the top fused score, answerable
vs unanswerable.

Example:
    >>> build_report(Settings(), data="data/checks/classify_handwritten.jsonl",
    ...              queries=None, out_dir="report")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import logging
import math
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.retrieve import category_probs_fn

__all__ = ["build_report", "main"]

logger = logging.getLogger(__name__)

_FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, PingFang SC, Microsoft YaHei, Helvetica, Arial, sans-serif"
_BLUE, _ORANGE, _GREY, _RED = "#2b6cb0", "#dd6b20", "#718096", "#c53030"


# ------------------------------------------------------------------------------------------------
# metrics
class _RecordingClassifier:
    """Proxy that keeps every ``predict_proba`` output, so the report reuses the probabilities the
    canonical :func:`eval.classification.evaluate_classifier` computed instead of predicting twice."""

    def __init__(self, clf: Any) -> None:
        self._clf = clf
        self.classes_ = clf.classes_
        self.outputs: list[np.ndarray] = []

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        p = self._clf.predict_proba(texts)
        self.outputs.append(p)
        return p


def _classification(clf: Any, texts: list[str], labels: list[str]) -> dict[str, Any]:
    from hotline.core.taxonomy import default_taxonomy
    from hotline.models.evaluation import evaluate_classifier
    from hotline.models.metrics import top_k_accuracy

    rec = _RecordingClassifier(clf)
    m = evaluate_classifier(rec, texts, labels)
    probs = np.vstack(rec.outputs)  # [n, n_classes]
    classes = list(clf.classes_)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(t, -1) for t in labels])
    preds, confs = m.pop("predictions"), m.pop("confidences")
    m["top_k"] = {f"top{k}_accuracy": top_k_accuracy(probs, y, k) for k in (1, 3, 5)}

    # service level: predicted service = largest summed leaf probability (as service_accuracy)
    tax = default_taxonomy()
    svc_of = tax.service_of
    services = sorted({svc_of(c) for c in classes} | {svc_of(t) for t in labels})
    member = np.array([[svc_of(c) == s for s in services] for c in classes], dtype=float)
    pred_s = [services[i] for i in (probs @ member).argmax(1)]
    s_index = {s: i for i, s in enumerate(services)}
    mat = np.zeros((len(services), len(services)), dtype=int)
    for t, p in zip(labels, pred_s):
        mat[s_index[svc_of(t)], s_index[p]] += 1
    m["service_confusion"] = {"labels": services, "names": [tax.service_name(s) for s in services],
                              "matrix": mat.tolist(), "rows": "true", "columns": "predicted"}

    # abstention at the model's own thresholds
    meta_thr = (getattr(clf, "meta_", {}) or {}).get("thresholds") or {}
    abstain = np.array([c < clf.threshold_for(p) for p, c in zip(preds, confs)])
    correct = np.array([p == t for p, t in zip(preds, labels)])
    m["abstention"] = {
        "abstain_rate": float(abstain.mean()) if len(abstain) else 0.0,
        "accepted_accuracy": float(correct[~abstain].mean()) if (~abstain).any() else None,
        "abstained_accuracy": float(correct[abstain].mean()) if abstain.any() else None,
    }
    m["thresholds"] = {"global": meta_thr.get("global", getattr(clf, "global_threshold_", None)),
                       "target_precision": meta_thr.get("target_precision"),
                       "per_label": dict(meta_thr.get("per_label", getattr(clf, "thresholds_", {})))}
    m["confused_pairs"] = m["confused_pairs"][:10]
    return m


def _summary(values: Sequence[float]) -> dict[str, float | int | None]:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return {"n": 0}
    q = np.percentile(v, [5, 25, 50, 75, 95])
    return {"n": int(len(v)), "mean": float(v.mean()), "min": float(v.min()), "p5": float(q[0]), "p25": float(q[1]),
            "p50": float(q[2]), "p75": float(q[3]), "p95": float(q[4]), "max": float(v.max())}


def _retrieval(index: Any, index_dir: Path, queries: list[dict[str, Any]], clf: Any) -> dict[str, Any]:
    from hotline.eval.retrieval import evaluate_retrieval

    m = evaluate_retrieval(index, queries, category_probs_fn=category_probs_fn(clf, index))
    meta_path = index_dir / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else dict(index.meta)
    m["threshold"] = meta.get("threshold")
    m["threshold_rule"] = (meta.get("calibration") or {}).get("threshold_rule")
    m["category_boost"] = category_probs_fn(clf, index) is not None
    m["score_summary"] = {k: _summary(v) for k, v in m["scores"].items() if k != "answerable_top_correct"}
    return m


# ------------------------------------------------------------------------------------------------
# inline SVG plots
class _Svg:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *, opacity: float = 1.0, title: str = "",
             stroke: str = "none") -> None:
        t = f"<title>{html.escape(title)}</title>" if title else ""
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                          f'fill="{fill}" fill-opacity="{opacity:.3f}" stroke="{stroke}">{t}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#000", *, width: float = 1,
             dash: str = "") -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                          f'stroke-width="{width}"{d}/>')

    def text(self, x: float, y: float, s: str, *, size: int = 11, anchor: str = "middle", fill: str = "#1a202c",
             rotate: float | None = None, weight: str = "normal") -> None:
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
                          f'font-weight="{weight}"{tr}>{html.escape(s)}</text>')

    def to_str(self, label: str) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
                f'width="{self.w}" height="{self.h}" viewBox="0 0 {self.w} {self.h}" font-family="{_FONT}">'
                + "".join(self.parts) + "</svg>")


def _axes(svg: _Svg, x0: float, y0: float, x1: float, y1: float, *, xlabel: str, ylabel: str,
          xticks: Sequence[tuple[float, str]], yticks: Sequence[tuple[float, str]]) -> None:
    """Frame ``(x0, y0)``–``(x1, y1)`` in pixels with ticks given as (pixel, label)."""
    svg.line(x0, y1, x1, y1)
    svg.line(x0, y0, x0, y1)
    for px, lab in xticks:
        svg.line(px, y1, px, y1 + 4)
        svg.text(px, y1 + 16, lab, size=10)
    for py, lab in yticks:
        svg.line(x0 - 4, py, x0, py)
        svg.line(x0, py, x1, py, "#e2e8f0")
        svg.text(x0 - 7, py + 3, lab, size=10, anchor="end")
    svg.text((x0 + x1) / 2, y1 + 34, xlabel, size=12)
    svg.text(x0 - 42, (y0 + y1) / 2, ylabel, size=12, rotate=-90)


def _svg_confusion(labels: list[str], matrix: list[list[int]]) -> str:
    n = len(labels)
    cell = max(26, min(44, 520 // max(n, 1)))
    left, top = 130, 30
    svg = _Svg(left + n * cell + 30, top + n * cell + 120)
    mat = np.asarray(matrix, dtype=float)
    row_tot = np.maximum(mat.sum(1, keepdims=True), 1)
    share = mat / row_tot
    for i in range(n):
        for j in range(n):
            v = share[i, j]
            colour = _BLUE if i == j else _RED
            svg.rect(left + j * cell, top + i * cell, cell - 1, cell - 1, colour, opacity=0.06 + 0.9 * v if v else 0.03,
                     title=f"true {labels[i]} → predicted {labels[j]}: {int(mat[i, j])} ({v:.0%} of the row)")
            if mat[i, j]:
                svg.text(left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, str(int(mat[i, j])), size=10,
                         fill="#fff" if v > 0.5 else "#1a202c")
        svg.text(left - 6, top + i * cell + cell / 2 + 4, labels[i], size=11, anchor="end")
        svg.text(left + i * cell + cell / 2, top + n * cell + 8, labels[i], size=11, anchor="end", rotate=-50)
    svg.text(left + n * cell / 2, top + n * cell + 105, "predicted service", size=12, weight="bold")
    svg.text(14, top + n * cell / 2, "true service", size=12, rotate=-90, weight="bold")
    return svg.to_str("service-level confusion matrix")


def _svg_bars(items: list[tuple[str, float]], *, xlabel: str, label: str) -> str:
    if not items:
        return "<p><em>no confusions</em></p>"
    left, bar, top = 330, 20, 10
    width = 300
    svg = _Svg(left + width + 60, top + len(items) * (bar + 6) + 50)
    vmax = max(v for _, v in items) or 1
    for i, (name, v) in enumerate(items):
        y = top + i * (bar + 6)
        svg.rect(left, y, width * v / vmax, bar, _RED, opacity=0.75, title=f"{name}: {v:g}")
        svg.text(left - 6, y + bar / 2 + 4, name, size=11, anchor="end")
        svg.text(left + width * v / vmax + 5, y + bar / 2 + 4, f"{v:g}", size=10, anchor="start")
    svg.text(left + width / 2, top + len(items) * (bar + 6) + 30, xlabel, size=12)
    return svg.to_str(label)


def _svg_reliability(bins: list[dict[str, Any]]) -> str:
    x0, y0, x1, y1 = 60, 20, 420, 340
    svg = _Svg(460, 400)
    px = lambda v: x0 + (x1 - x0) * v  # noqa: E731
    py = lambda v: y1 - (y1 - y0) * v  # noqa: E731
    ticks = [(i / 5, f"{i / 5:.1f}") for i in range(6)]
    _axes(svg, x0, y0, x1, y1, xlabel="confidence (top-1 probability)", ylabel="accuracy",
          xticks=[(px(v), s) for v, s in ticks], yticks=[(py(v), s) for v, s in ticks])
    total = sum(b["n"] for b in bins) or 1
    for b in bins:
        if not b["n"]:
            continue
        w = px(b["hi"]) - px(b["lo"])
        svg.rect(px(b["lo"]) + 1, py(b["accuracy"]), w - 2, py(0) - py(b["accuracy"]), _BLUE, opacity=0.75,
                 title=f"[{b['lo']:.1f}, {b['hi']:.1f}): n={b['n']}, accuracy {b['accuracy']:.3f}, "
                       f"mean confidence {b['confidence']:.3f}")
        # gap to the mean confidence of the bin
        top, bot = sorted((py(b["accuracy"]), py(b["confidence"])))
        svg.rect(px(b["lo"]) + 1, top, w - 2, bot - top, _RED, opacity=0.25)
        svg.text(px(b["lo"]) + w / 2, y0 + 12, f"{b['n'] / total:.0%}", size=9, fill=_GREY)
    svg.line(px(0), py(0), px(1), py(1), _GREY, dash="4 3")
    svg.text(x1 - 4, y1 - 8, "blue: accuracy · red: gap to confidence · grey %: share of texts", size=9,
             anchor="end", fill=_GREY)
    return svg.to_str("reliability diagram")


def _svg_histogram(series: list[tuple[str, Sequence[float], str]], *, xlabel: str, label: str,
                   threshold: float | None = None, threshold_label: str = "threshold",
                   lo: float | None = None, hi: float | None = None, bins: int = 25) -> str:
    values = [np.asarray(v, dtype=float) for _, v, _ in series]
    allv = np.concatenate([v for v in values if len(v)]) if any(len(v) for v in values) else np.zeros(1)
    lo = float(np.min(allv)) if lo is None else lo
    hi = float(np.max(allv)) if hi is None else hi
    if threshold is not None and math.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    # densities (share of each series per bin) so unequal group sizes compare
    hists = [np.histogram(v, bins=edges)[0] / max(len(v), 1) for v in values]
    ymax = max(float(h.max()) for h in hists) if hists else 1.0
    ymax = ymax or 1.0
    x0, y0, x1, y1 = 60, 30, 560, 300
    svg = _Svg(600, 370)
    px = lambda v: x0 + (x1 - x0) * (v - lo) / (hi - lo)  # noqa: E731
    py = lambda v: y1 - (y1 - y0) * v / ymax  # noqa: E731
    xt = [(px(v), f"{v:.2f}") for v in np.linspace(lo, hi, 6)]
    yt = [(py(v), f"{v:.0%}") for v in np.linspace(0, ymax, 5)]
    _axes(svg, x0, y0, x1, y1, xlabel=xlabel, ylabel="share of the group's queries", xticks=xt, yticks=yt)
    for (name, _, colour), h in zip(series, hists):
        for i, share in enumerate(h):
            if share:
                svg.rect(px(edges[i]) + 0.5, py(share), px(edges[i + 1]) - px(edges[i]) - 1, py(0) - py(share),
                         colour, opacity=0.45, title=f"{name}: {share:.1%} in [{edges[i]:.3f}, {edges[i + 1]:.3f})")
    for k, (name, vals, colour) in enumerate(series):
        svg.rect(x1 - 190, y0 + 4 + 16 * k, 10, 10, colour, opacity=0.6)
        svg.text(x1 - 175, y0 + 13 + 16 * k, f"{name} (n={len(vals)})", size=11, anchor="start")
    if threshold is not None and math.isfinite(threshold):
        svg.line(px(threshold), y0, px(threshold), y1, "#000", width=2, dash="6 3")
        svg.text(px(threshold) + 4, y0 + 10 + 16 * len(series) + 6, f"{threshold_label} {threshold:.3f}", size=11,
                 anchor="start", weight="bold")
    return svg.to_str(label)


# ------------------------------------------------------------------------------------------------
# HTML
def _fmt(v: Any, nd: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:.{nd}f}"
    return html.escape(str(v))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _classification_html(m: dict[str, Any]) -> str:
    from hotline.core.taxonomy import default_taxonomy

    tax = default_taxonomy()
    summary = [("n", m["n"]), ("accuracy", m["accuracy"]), ("macro_f1", m["macro_f1"]),
               ("top1_accuracy", m["top_k"]["top1_accuracy"]), ("top3_accuracy", m["top_k"]["top3_accuracy"]),
               ("top5_accuracy", m["top_k"]["top5_accuracy"]), ("service_accuracy", m.get("service_accuracy")),
               ("ece", m["ece"]), ("abstain_rate", m["abstention"]["abstain_rate"]),
               ("accepted_accuracy", m["abstention"]["accepted_accuracy"])]
    parts = ["<h2>Classification</h2>", _table(["metric", "value"], summary, cls="summary")]
    sc = m["service_confusion"]
    legend = ", ".join(f"{html.escape(c)} = {html.escape(nm)}" for c, nm in zip(sc["labels"], sc["names"]))
    parts += ["<h3>Confusion matrix, service level</h3>",
              "<p>Rows: true service; columns: predicted service (largest summed leaf probability). Colour: share "
              f"of the row. Services: {legend}.</p>", _svg_confusion(sc["labels"], sc["matrix"])]
    pairs = m["confused_pairs"]
    parts += ["<h3>Most confused leaf pairs</h3>",
              _svg_bars([(f"{p['true']} → {p['pred']}", p["count"]) for p in pairs], xlabel="texts",
                        label="most confused leaf pairs"),
              _table(["true", "predicted", "count", "true phenomenon", "predicted phenomenon"],
                     [(p["true"], p["pred"], p["count"], _phen(tax, p["true"]), _phen(tax, p["pred"])) for p in pairs])]
    parts += ["<h3>Reliability diagram</h3>",
              f"<p>ece = {_fmt(m['ece'])} (15 equal-width bins; the diagram uses 10).</p>",
              _svg_reliability(m["reliability"])]
    thr = m["thresholds"]
    per_label = thr.get("per_label") or {}
    codes = sorted(set(m["per_class"]) | set(per_label))
    rows = []
    for c in codes:
        pc = m["per_class"].get(c, {})
        rows.append((c, _phen(tax, c), per_label.get(c, f"global {_fmt(thr.get('global'))}"),
                     pc.get("precision"), pc.get("recall"), pc.get("f1"), pc.get("support")))
    parts += ["<h3>Per-category abstain thresholds and per-class metrics</h3>",
              f"<p>From the classifier's meta.json: the model abstains when the top-1 probability is below the "
              f"category's threshold (fitted for precision {_fmt(thr.get('target_precision'), 2)} on held-out data; "
              f"categories with too few held-out predictions use the global threshold {_fmt(thr.get('global'))}).</p>",
              _table(["code", "phenomenon", "abstain threshold", "precision", "recall", "f1", "support"], rows)]
    return "\n".join(parts)


def _phen(tax: Any, code: str) -> str:
    try:
        return tax[code].phenomenon
    except Exception:
        return ""


def _retrieval_html(m: dict[str, Any]) -> str:
    keys = ("n", "n_answerable", "n_unanswerable", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10",
            "no_answer_accuracy", "answerable_abstain_rate", "answered_precision", "answered_recall@1",
            "ms_per_query", "threshold")
    parts = ["<h2>Retrieval</h2>", _table(["metric", "value"], [(k, m.get(k)) for k in keys], cls="summary")]
    s = m["scores"]
    series = [("answerable", s["answerable_confidence"], _BLUE), ("unanswerable", s["unanswerable_confidence"], _ORANGE)]
    parts += ["<h3>No-answer confidence, answerable vs unanswerable</h3>",
              "<p>Confidence = the index's calibrated P(top hit is right); the dashed line is the no-answer threshold "
              f"fitted at build time (meta.json, rule: {_fmt(m.get('threshold_rule'))}): below it the result says "
              "no_answer.</p>",
              _svg_histogram(series, xlabel="no-answer confidence of the top hit", label="confidence histogram",
                             threshold=m.get("threshold"), threshold_label="no-answer threshold", lo=0.0, hi=1.0)]
    series = [("answerable", s["answerable_top_score"], _BLUE), ("unanswerable", s["unanswerable_top_score"], _ORANGE)]
    parts += ["<h3>Top fused score, answerable vs unanswerable</h3>",
              "<p>The fused score (z-scored cosine + BM25 + category boost) of the first hit. The threshold is not on "
              "this scale (it applies to the confidence above), so no line is drawn.</p>",
              _svg_histogram(series, xlabel="top fused score", label="top score histogram")]
    rows = [(k, *(v.get(q) for q in ("n", "mean", "p5", "p50", "p95"))) for k, v in m["score_summary"].items()]
    parts += ["<h3>Score distributions</h3>", _table(["series", "n", "mean", "p5", "p50", "p95"], rows)]
    return "\n".join(parts)


_CSS = """
body{font-family:FONT;margin:2em auto;max-width:1100px;color:#1a202c;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.4em}th,td{border:1px solid #cbd5e0;padding:3px 8px;font-size:13px}
th{background:#edf2f7;text-align:left}td{text-align:right}td:first-child{text-align:left;font-family:monospace}
h2{border-bottom:2px solid #2b6cb0;padding-bottom:4px;margin-top:1.8em}svg{display:block;margin:.5em 0 1em}
.meta{color:#4a5568;font-size:13px}
""".replace("FONT", _FONT)


def _render_html(metrics: dict[str, Any]) -> str:
    src = metrics["sources"]
    meta = "".join(f"<li>{html.escape(k)}: <code>{html.escape(str(v))}</code></li>" for k, v in src.items())
    body = []
    if "classification" in metrics:
        body.append(_classification_html(metrics["classification"]))
    if "retrieval" in metrics:
        body.append(_retrieval_html(metrics["retrieval"]))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hotline evaluation report</title>"
            f"<style>{_CSS}</style></head><body><h1>Hotline evaluation report</h1>"
            f"<p class=\"meta\">Created {html.escape(metrics['created_at'])}. Full numbers: metrics.json.</p>"
            f"<ul class=\"meta\">{meta}</ul>" + "\n".join(body) + "</body></html>\n")


# ------------------------------------------------------------------------------------------------
def build_report(settings: Settings, *, data: str | Path | None = None, queries: str | Path | None = None,
                 model_dir: str | Path | None = None, index_dir: str | Path | None = None,
                 out_dir: str | Path = "report") -> dict[str, Any]:
    """Evaluate and write ``out_dir/metrics.json`` and ``out_dir/report.html``. Returns the metrics.

    Args:
        settings: default model folders (``settings.classifier_dir`` / ``settings.index_dir``).
        data: labelled ``{"text","label"}`` JSONL for classification; None skips that part.
        queries: ``{"query","relevant"}`` JSONL for retrieval; None skips that part.
        model_dir: classifier folder (default ``settings.classifier_dir``); also gives retrieval its category boost.
        index_dir: FAQ index folder (default ``settings.index_dir``).
        out_dir: output folder (created).

    Raises:
        InvalidInputError: when neither ``data`` nor ``queries`` is given, or a file is missing.
        ArtifactError: when a needed model folder is missing.
    """
    if data is None and queries is None:
        raise InvalidInputError("pass data= (labelled texts) and/or queries= (retrieval queries); got neither. "
                                "CLI: hotline eval report --data D.jsonl --queries Q.jsonl --out DIR")
    for name, p in (("data", data), ("queries", queries)):
        if p is not None and not Path(p).is_file():
            raise InvalidInputError(f"{name} file not found: {p}; pass an existing JSONL file")
    model_path = Path(model_dir) if model_dir else settings.classifier_dir
    index_path = Path(index_dir) if index_dir else settings.index_dir
    out = Path(out_dir)
    metrics: dict[str, Any] = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sources": {}}

    clf = None
    if (model_path / "meta.json").is_file():
        from hotline.models.classifier import ComplaintClassifier

        clf = ComplaintClassifier.load(model_path)
    elif data is not None:
        raise ArtifactError(f"no classifier at {model_path}; run 'hotline build' or pass --model DIR")
    if data is not None:
        from hotline.core.jsonl import read_labelled

        texts, labels = read_labelled(data)
        if not texts:
            raise InvalidInputError(f"{data} holds no labelled texts")
        logger.info("report: classifying %d texts with %s", len(texts), model_path)
        metrics["classification"] = _classification(clf, texts, labels)
        metrics["sources"].update(data=str(data), model=str(model_path))
    if queries is not None:
        from hotline.eval.retrieval import load_queries
        from hotline.index.faq_index import FaqIndex

        if not (index_path / "meta.json").is_file():
            raise ArtifactError(f"no FAQ index at {index_path}; run 'hotline build' or pass --index DIR")
        qs = load_queries(queries)
        index = FaqIndex.load(index_path)
        logger.info("report: searching %d queries in %s", len(qs), index_path)
        metrics["retrieval"] = _retrieval(index, index_path, qs, clf)
        metrics["sources"].update(queries=str(queries), index=str(index_path))
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2, default=_json_default),
                                      encoding="utf-8")
    (out / "report.html").write_text(_render_html(metrics), encoding="utf-8")
    return metrics


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def main(args: Any, settings: Settings) -> int:
    """``hotline eval report``: write the files; the last stdout line is a JSON summary."""
    out = Path(getattr(args, "out", None) or "report")
    m = build_report(settings, data=getattr(args, "data", None), queries=getattr(args, "queries", None),
                     model_dir=getattr(args, "model", None), index_dir=getattr(args, "index", None), out_dir=out)
    summary: dict[str, Any] = {"out": str(out), "html": str(out / "report.html"), "metrics": str(out / "metrics.json")}
    if "classification" in m:
        c = m["classification"]
        summary["classification"] = {k: c.get(k) for k in ("n", "accuracy", "macro_f1", "service_accuracy", "ece")}
    if "retrieval" in m:
        r = m["retrieval"]
        summary["retrieval"] = {k: r.get(k) for k in ("n", "recall@1", "recall@5", "mrr@10", "ndcg@10",
                                                      "no_answer_accuracy", "threshold")}
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
