"""hotline.training.retrain (`hotline retrain`): real tiny builds through the gate.

One small live build (a few generated utterances per code) is made once; each retrain builds a real candidate
beside it (classifier, scope, call and no-answer models, index) and measures both on the shipped check sets
(the retrieval sets are left out here to keep the tests short; `hotline retrain` measures them by default).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import write_jsonl
from hotline.core.settings import Settings
from hotline.store.builds import BuildLockedError, BuildRegistry
from hotline.training.build import build_default
from hotline.training.generate import CorpusGenerator
from hotline.training.retrain import RetrainJob

pytestmark = pytest.mark.slow

SWAP = {"broadband.cannot_connect": "sms.cannot_send", "sms.cannot_send": "billing.invoice",
        "billing.invoice": "broadband.cannot_connect"}


def _generated(seed: int, per_code: int, codes: list[str] | None = None) -> list[dict]:
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    return [{"text": r["text"], "label": r["label"]} for r in gen.run(codes=codes)["records"]]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("retrain_home"))
    build_default(settings, per_code=10, seed=3, call_per_code=3, no_answer_per_code=6)
    return settings


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("retrain_data")
    # new utterances of one kind (a generator seed the live build never saw) and held-out ones of the same kind
    write_jsonl(_generated(101, 8), d / "new.jsonl")
    write_jsonl(_generated(202, 4), d / "heldout.jsonl")
    # three codes' utterances labelled as each other, many of them
    bad = [{**r, "label": SWAP[r["label"]]} for r in _generated(303, 80, codes=sorted(SWAP))]
    random.Random(0).shuffle(bad)
    write_jsonl(bad, d / "mislabelled.jsonl")
    return {"new": d / "new.jsonl", "heldout": d / "heldout.jsonl", "bad": d / "mislabelled.jsonl"}


def _job(home, **kw) -> RetrainJob:
    return RetrainJob(home, retrieval=False, **kw)


def test_a_second_retrain_is_refused_while_one_runs(home, files, capsys):
    reg = BuildRegistry(home)
    before = reg.current_id()
    n_builds = len(reg.list())
    with reg.lock("retrain"):
        with pytest.raises(BuildLockedError, match="another retrain job is running"):
            _job(home, data=[files["new"]]).run()
        assert main(["--home", str(home.home), "retrain", "--data", str(files["new"])]) == 2
        assert "another retrain job is running" in capsys.readouterr().err
    assert reg.current_id() == before and len(reg.list()) == n_builds  # nothing was built


def test_correct_new_data_is_promoted_and_heldout_accuracy_does_not_drop(home, files):
    reg = BuildRegistry(home)
    before = reg.current_id()
    out = _job(home, data=[files["new"]], gate=[files["heldout"]]).run()
    assert out["promoted"] and out["gate"]["passed"], out["reason"]
    assert out["candidate"] != before and out["current"] == out["candidate"] == reg.current_id()
    held = out["gate"]["sets"]["gate:heldout.jsonl"]
    assert held["candidate"]["accuracy"] >= held["current"]["accuracy"]
    n_new = len(files["new"].read_text(encoding="utf-8").splitlines())
    assert out["records"]["user"] == n_new and 0 < out["records"]["merged"] <= n_new
    m = reg.manifest(out["candidate"])
    assert m["parent"] == before and m["source"] == "retrain" and m["status"] == "promoted"
    assert m["gate"]["passed"] and m["new_data"]["records"] == out["records"]["merged"]
    assert m["new_data"]["copies"] == 2 * m["new_data"]["records"]  # user records count twice (USER_WEIGHT)
    assert m["params"]["per_code"] == 10  # the live build's corpus, plus the new data
    # the new records trained the classifier beside the corpus, never its calibration split
    config = json.loads((reg.root / out["candidate"] / "classifier" / "config.json").read_text(encoding="utf-8"))
    assert sum(len(v) for v in config["label_texts"].values()) == m["new_data"]["copies"]
    assert reg.history()[-1]["build"] == out["candidate"] and not reg.history()[-1]["forced"]


def test_mislabelled_data_is_refused_and_then_forced(home, files, capsys):
    reg = BuildRegistry(home)
    live = reg.current_id()
    code = main(["--home", str(home.home), "retrain", "--data", str(files["bad"]), "--no-retrieval"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["promoted"] is False and out["gate"]["passed"] is False and out["reason"].startswith("gate refused")
    assert out["current"] == live == reg.current_id()  # the live build stays as it was
    assert {d["code"] for d in out["gate"]["class_drops"]} & set(SWAP)
    assert reg.manifest(out["candidate"])["status"] == "refused"
    assert set(out["gate"]["sets"]["classify_handwritten"]) >= {"current", "candidate"}

    forced = _job(home, data=[files["bad"]], force=True).run()
    assert forced["promoted"] and not forced["gate"]["passed"] and forced["forced"]
    assert forced["current"] == forced["candidate"] == reg.current_id() != live
    assert forced["reason"].startswith("forced past a refusing gate")
    m = reg.manifest(forced["candidate"])
    assert m["forced"] is True and m["gate"]["passed"] is False
    last = reg.history()[-1]
    assert last["build"] == forced["candidate"] and last["forced"] is True and "forced" in last["reason"]


def _fake_live(tmp_path) -> Settings:
    """A home whose live build is two empty artefact folders: enough for the checks that run before training."""
    settings = Settings(home=tmp_path)
    reg = BuildRegistry(settings)
    out = reg.create(source="build")
    for part in ("classifier", "index"):
        (out / part).mkdir()
        (out / part / "meta.json").write_text("{}", encoding="utf-8")
    reg.promote(out.name)
    return settings


def test_bad_input_is_refused_before_anything_is_built(tmp_path, capsys):
    with pytest.raises(InvalidInputError, match="no live build"):
        RetrainJob(Settings(home=tmp_path / "empty"), data=[tmp_path / "x.jsonl"]).run()
    settings = _fake_live(tmp_path / "home")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "宽带断网了", "label": "broadband.cannot_connect"}\n'
                   '{"text": "网很慢", "label": "slow"}\n', encoding="utf-8")
    home = str(settings.home)
    assert main(["--home", home, "retrain", "--data", str(bad)]) == 2
    assert f"{bad}:2: field 'label'" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "宽带断网了", "label": "broadband.cannot_connect"}\n', encoding="utf-8")
    gate = tmp_path / "gate.jsonl"
    gate.write_text('{"text": "宽带断网了"}\n', encoding="utf-8")
    assert main(["--home", home, "retrain", "--data", str(good), "--gate", str(gate)]) == 2
    assert "record 1 has no 'label'" in capsys.readouterr().err
    assert main(["--home", home, "retrain"]) == 2  # nothing to train on
    assert "no new training records" in capsys.readouterr().err
    assert len(BuildRegistry(settings).list()) == 1  # no candidate folder was made


class _FakeEvaluator:
    """Metrics per build folder, as BuildEvaluator.evaluate returns them (so no model is loaded)."""

    def __init__(self, by_build: dict[str, float]) -> None:
        self.by_build = by_build

    def shipped_sets(self) -> list:
        return ["classify_handwritten"]

    def evaluate(self, build_dir, sets) -> dict:
        return {"classify_handwritten": {"n": 252, "accuracy": self.by_build[Path(build_dir).name],
                                         "per_class": {}}}


@pytest.mark.parametrize(("accuracy", "force", "promoted"), [(0.97, False, True), (0.80, False, False),
                                                             (0.80, True, True)])
def test_hotline_build_on_a_live_home_goes_through_the_gate(tmp_path, monkeypatch, accuracy, force, promoted):
    """`hotline build` replaces a live build only through the gate (or --force); the first build goes live."""
    import hotline.training.build as build_mod
    import hotline.training.check_sets as check_sets
    from hotline.training.retrain import rebuild_gated

    settings = Settings(home=tmp_path / "home")
    reg = BuildRegistry(settings)
    made: list[str] = []

    def fake_build(s, *, promote=True, **params):  # a complete build folder, no training
        out = reg.create(source="build")
        for part in ("classifier", "index"):
            (out / part).mkdir()
            (out / part / "meta.json").write_text("{}")
        made.append(out.name)
        if promote:
            reg.promote(out.name, actor="hotline build")
        return {"build": str(out)}

    monkeypatch.setattr(build_mod, "build_default", fake_build)
    first = rebuild_gated(settings, per_code=5)
    assert first["promoted"] and first["previous"] is None and reg.current_id() == made[0]
    scores = {made[0]: 0.95}
    monkeypatch.setattr(check_sets, "BuildEvaluator", lambda *a, **k: _FakeEvaluator(scores))
    monkeypatch.setattr(build_mod, "build_default", lambda s, **kw: (fake_build(s, **kw),
                                                                     scores.update({made[-1]: accuracy}))[0])
    out = rebuild_gated(settings, force=force, per_code=5)
    assert out["promoted"] is promoted and out["previous"] == made[0]
    assert reg.current_id() == (made[1] if promoted else made[0])
    assert reg.manifest(made[1])["status"] == ("promoted" if promoted else "refused")
    assert reg.manifest(made[1])["gate"]["passed"] is (accuracy > 0.9)
