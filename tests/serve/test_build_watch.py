"""A running server follows promotions and rollbacks of the live build without a failed request."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from fastapi.testclient import TestClient

from hotline.core.settings import Settings
from hotline.serve.app import create_app
from hotline.store.builds import BuildRegistry

TEXT = {"texts": ["我家宽带从昨天开始连不上，光猫亮红灯"]}


def _serving(client: TestClient) -> str:
    return client.get("/readyz").json()["models"]["classifier"]["build"]


def _wait_for(client: TestClient, build: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _serving(client) != build:
        assert time.monotonic() < deadline, f"the server still serves {_serving(client)}, not {build}"
        time.sleep(0.05)


def _cli(settings: Settings, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "hotline", "--home", str(settings.home), "models", *args],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_server_follows_promote_and_rollback_without_a_failed_request(registry_home):
    settings, (first, second) = registry_home
    settings = Settings(home=settings.home, auth_enabled=False, build_poll_s=0.1)
    statuses: list[int] = []
    stop = threading.Event()
    with TestClient(create_app(settings)) as client:
        assert _serving(client) == first

        def hammer() -> None:
            while not stop.is_set():
                statuses.append(client.post("/v1/classify", json=TEXT).status_code)

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            assert _cli(settings, "promote", second, "--by", "ops")["current"] == second
            _wait_for(client, second)
            assert _cli(settings, "rollback")["current"] == first
            _wait_for(client, first)
            time.sleep(0.3)
        finally:
            stop.set()
            worker.join()
    assert len(statuses) > 10 and set(statuses) == {200}
    history = BuildRegistry(settings).history()
    assert [h["action"] for h in history][-2:] == ["promote", "rollback"]
    assert history[-2]["actor"] == "cli:ops"


def test_a_broken_promoted_build_is_refused_once_and_the_old_one_keeps_serving(registry_home):
    settings, (first, second) = registry_home
    settings = Settings(home=settings.home, auth_enabled=False, build_poll_s=0.1)
    reg = BuildRegistry(settings)
    broken = reg.root / second / "index" / "meta.json"
    broken.unlink()
    broken.write_text("{not json")  # promote checks the file exists; loading it fails
    with TestClient(create_app(settings)) as client:
        reg.promote(second)
        time.sleep(1.0)
        assert _serving(client) == first
        assert client.post("/v1/classify", json=TEXT).status_code == 200
        watcher = client.app.state.build_watcher
        assert watcher.changed() is None  # refused once, not retried on every poll


def test_models_list_json_and_show(registry_home):
    settings, (first, second) = registry_home
    builds = _cli(settings, "list", "--json")
    assert [b["id"] for b in builds] == [second, first]
    assert [b["current"] for b in builds] == [False, True]
    assert {"id", "current", "created_at", "parent", "source", "metrics"} <= set(builds[0])
    out = subprocess.run([sys.executable, "-m", "hotline", "--home", str(settings.home), "models", "show", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "hotline models list" in out.stderr


@pytest.mark.parametrize("args", [("rollback",)])
def test_rollback_with_nothing_before_exits_2(registry_home, args):
    settings, _ = registry_home
    out = subprocess.run([sys.executable, "-m", "hotline", "--home", str(settings.home), "models", *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "nothing to roll back" in out.stderr
