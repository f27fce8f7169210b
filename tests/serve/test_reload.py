"""Hot reload: a corrupt or incomplete build is refused with a JSON 409 naming the file and the fix, the
current build keeps serving, and a good reload releases the old pipeline (it is garbage-collected).

Each test works on its own copy of the tiny build (tests/conftest.py ``tiny_home``), so breaking files
never touches the shared one.
"""

from __future__ import annotations

import gc
import json
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hotline.core.settings import Settings
from hotline.serve.app import create_app
from hotline.serve.state import PipelineHolder, ReloadRefusedError

TEXT = {"texts": ["我家宽带从昨天开始连不上，光猫亮红灯"]}


@pytest.fixture
def home(tiny_home: Settings, tmp_path: Path) -> Path:
    dst = tmp_path / "home"
    shutil.copytree(tiny_home.home, dst, ignore=shutil.ignore_patterns("*.sqlite3*"))
    return dst


@pytest.fixture
def client(home: Path, tmp_path: Path):
    settings = Settings(home=home, auth_enabled=False, feedback_db=tmp_path / "fb.sqlite3")
    with TestClient(create_app(settings)) as c:
        yield c


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bump_format(path: Path) -> None:
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["format_version"] = "99.0"
    path.write_text(json.dumps(meta), encoding="utf-8")


BREAKS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    # name: (file, how it breaks, what the message says about it)
    "missing classifier meta.json": ("classifier/meta.json", Path.unlink, "missing"),
    "truncated model.joblib": ("classifier/model.joblib", _truncate, "corrupt or truncated"),
    "truncated scope model": ("classifier/scope/model.joblib", _truncate, "corrupt or truncated"),
    "wrong format version": ("index/meta.json", _bump_format, "format_version 99.0"),
    "missing index rows": ("index/rows.npz", Path.unlink, "rows.npz"),
    "missing vectors": ("index/vectors/vectors.faiss", Path.unlink, "vectors.faiss"),
    "truncated vectors": ("index/vectors/vectors.faiss", _truncate, "vectors.faiss"),
    "half-written kb": ("index/kb.jsonl", _truncate, "truncated"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_broken_build_is_refused_and_the_current_one_keeps_serving(client: TestClient, home: Path,
                                                                   case: str) -> None:
    rel, breaker, said = BREAKS[case]
    before = client.get("/readyz").json()["generation"]
    breaker(home / rel)

    r = client.post("/v1/admin/reload")

    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "ReloadRefusedError" and body["generation"] == before
    assert body["file"] == rel  # relative to HOTLINE_HOME: no absolute server path in the reply
    assert rel in body["detail"] and said in body["detail"] and "hotline build" in body["detail"]
    assert str(home) not in r.text
    # the build already loaded answers as before
    assert client.get("/readyz").json()["generation"] == before
    assert client.post("/v1/classify", json=TEXT).status_code == 200


def test_good_reload_switches_and_releases_the_old_pipeline(client: TestClient) -> None:
    holder: PipelineHolder = client.app.state.holder
    old = weakref.ref(holder.pipeline)
    gen = holder.generation

    r = client.post("/v1/admin/reload")

    assert r.status_code == 200, r.text
    assert r.json()["generation"] == gen + 1 and holder.pipeline is not old()
    assert str(client.app.state.settings.home) not in r.text  # build ids, not server paths
    gc.collect()
    assert old() is None, gc.get_referrers(old())  # nothing holds the old models any more
    assert client.post("/v1/classify", json=TEXT).status_code == 200


def test_refused_startup_says_which_file(home: Path, tmp_path: Path) -> None:
    (home / "index" / "meta.json").unlink()
    holder = PipelineHolder(Settings(home=home))
    with pytest.raises(ReloadRefusedError, match=r"no build is loaded yet: index/meta.json is missing.*hotline build"):
        holder.load()
    assert holder.pipeline is None and holder.generation == 0
