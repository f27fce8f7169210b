"""The build registry: create, derive, promote, rollback, history, lock — on fake build folders (no training)."""

from __future__ import annotations

import json
import os

import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.store.builds import BuildLockedError, BuildRegistry


def _complete(reg: BuildRegistry, *, source: str = "build", marker: str = "") -> str:
    path = reg.create(source=source)
    for part in ("classifier", "index"):
        (path / part).mkdir()
        (path / part / "meta.json").write_text(json.dumps({"kind": part, "marker": marker}))
    return path.name


def _marker(settings: Settings, part: str) -> str:
    return json.loads((settings.home / part / "meta.json").read_text())["marker"]


def test_promote_switches_classifier_and_index_together_and_records_history(tmp_path):
    s = Settings(home=tmp_path)
    reg = BuildRegistry(s)
    assert reg.current_id() is None and reg.list() == []
    a = _complete(reg, marker="a")
    reg.promote(a, actor="test")
    b = _complete(reg, marker="b")
    assert reg.get(b).parent == a  # the parent is the build live when it was made
    assert _marker(s, "classifier") == _marker(s, "index") == "a"
    info = reg.promote(b, actor="ops", reason="better")
    assert info.current and reg.current_id() == b
    assert _marker(s, "classifier") == _marker(s, "index") == "b"
    # both links go through the one `current` link: a single rename switches them
    assert os.readlink(s.home / "classifier") == os.path.join("current", "classifier")
    assert [h["build"] for h in reg.history()] == [a, b]
    assert reg.history()[-1]["previous"] == a and reg.history()[-1]["actor"] == "ops"
    assert [x.id for x in reg.list()] == [b, a] and [x.current for x in reg.list()] == [True, False]


def test_rollback_returns_to_the_previous_live_build_and_again_forward(tmp_path):
    s = Settings(home=tmp_path)
    reg = BuildRegistry(s)
    a, b, c = (_complete(reg, marker=m) for m in "abc")
    reg.promote(a)
    reg.promote(c)  # b was never live
    assert reg.rollback().id == a and _marker(s, "index") == "a"
    assert reg.history()[-1]["action"] == "rollback"
    assert reg.rollback().id == c  # the build live before a (after the rollback) was c
    assert reg.rollback(to=b).id == b and _marker(s, "classifier") == "b"
    with pytest.raises(InvalidInputError, match="already live"):
        reg.rollback(to=b)


def test_first_build_cannot_roll_back_and_unknown_ids_name_the_known_ones(tmp_path):
    reg = BuildRegistry(Settings(home=tmp_path))
    a = _complete(reg)
    reg.promote(a)
    with pytest.raises(InvalidInputError, match="nothing to roll back"):
        reg.rollback()
    with pytest.raises(InvalidInputError, match=a):
        reg.promote("20990101T000000000000Z")
    with pytest.raises(InvalidInputError, match="folder name"):
        reg.get("../etc")


def test_an_incomplete_build_is_refused_and_the_live_one_stays(tmp_path):
    s = Settings(home=tmp_path)
    reg = BuildRegistry(s)
    a = _complete(reg, marker="a")
    reg.promote(a)
    half = reg.create(source="retrain")
    (half / "classifier").mkdir()
    (half / "classifier" / "meta.json").write_text("{}")
    with pytest.raises(ArtifactError, match="index/meta.json"):
        reg.promote(half.name)
    assert reg.current_id() == a and _marker(s, "index") == "a"


def test_derive_hard_links_the_kept_parts(tmp_path):
    s = Settings(home=tmp_path)
    reg = BuildRegistry(s)
    a = _complete(reg, marker="a")
    reg.promote(a)
    new = reg.derive(source="kb-publish", keep=("classifier",), note="kb release 2")
    assert (new / "classifier" / "meta.json").read_text() == (reg.root / a / "classifier" / "meta.json").read_text()
    assert (new / "classifier" / "meta.json").stat().st_ino == (reg.root / a / "classifier" / "meta.json").stat().st_ino
    assert not (new / "index").exists()
    m = reg.manifest(new.name)
    assert m["parent"] == a and m["source"] == "kb-publish" and m["note"] == "kb release 2"


def test_a_home_from_before_the_registry_is_adopted(tmp_path):
    """Homes built before the registry had classifier/index linked straight into a build folder."""
    s = Settings(home=tmp_path)
    reg = BuildRegistry(s)
    old = _complete(reg, marker="old")
    for part in ("classifier", "index"):
        os.symlink(os.path.join("builds", old, part), s.home / part)
    assert reg.current_id() == old
    new = _complete(reg, marker="new")
    reg.promote(new)
    assert _marker(s, "classifier") == "new"
    assert reg.rollback().id == old and _marker(s, "index") == "old"


def test_a_real_folder_is_refused_with_the_fix(tmp_path):
    s = Settings(home=tmp_path)
    (s.home / "classifier").mkdir(parents=True)
    reg = BuildRegistry(s)
    a = _complete(reg)
    with pytest.raises(ArtifactError, match="real folder"):
        reg.promote(a)


def test_update_merges_into_the_manifest(tmp_path):
    reg = BuildRegistry(Settings(home=tmp_path))
    a = _complete(reg)
    reg.update(a, metrics={"handwritten": {"accuracy": 0.9}}, gate={"passed": True})
    info = reg.get(a)
    assert info.metrics["handwritten"]["accuracy"] == 0.9 and info.gate == {"passed": True}
    assert reg.manifest(a)["source"] == "build"


def test_one_job_at_a_time(tmp_path):
    reg = BuildRegistry(Settings(home=tmp_path))
    other = BuildRegistry(Settings(home=tmp_path))
    with reg.lock("retrain"):
        with pytest.raises(BuildLockedError, match="one job at a time"):
            with other.lock("retrain"):
                pass
    with other.lock("retrain"):  # released
        pass
