"""The benchmark server launcher: HOTLINE_* environment, start from outside the repository, stop, failures."""

from __future__ import annotations

import pytest

from hotline.core.errors import ArtifactError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.server import server_env, server_process


def test_server_env_passes_every_setting_and_drops_unset_ones(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path, max_batch=7, allowed_origins=["https://crm.example.cn"])
    env = server_env(settings, base={"PATH": "/bin", "HOTLINE_FEEDBACK_DB": "/stale.sqlite3"})
    assert env["PATH"] == "/bin"
    assert env["HOTLINE_HOME"] == str(tmp_path) and env["HOTLINE_MAX_BATCH"] == "7"
    assert "HOTLINE_FEEDBACK_DB" not in env  # None here: an inherited value must not leak into the child
    for k in [k for k in __import__("os").environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():  # the child reads them as its environment, lists as JSON
        if k.startswith("HOTLINE_"):
            monkeypatch.setenv(k, v)
    assert Settings() == settings


@pytest.mark.slow
def test_starts_and_stops_a_server_from_a_directory_outside_the_repository(tiny_home, tmp_path, monkeypatch):
    import httpx
    import psutil

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)  # the child inherits this working directory
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the installed package, nothing else
    with server_process(tiny_home, startup_timeout_s=240) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.startup_s > 0
        assert psutil.Process(server.pid).cwd() == str(outside)
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        r = httpx.post(f"{server.url}/v1/assist", json={"texts": ["宽带连不上网了"]}, timeout=30)
        assert r.status_code == 200
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)


@pytest.mark.slow
def test_a_server_that_cannot_start_is_reported_with_its_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArtifactError, match="exited with code") as err:  # nothing built in this home
        with server_process(Settings(home=tmp_path / "empty"), startup_timeout_s=120):
            pass
    assert "hotline build" in str(err.value)  # the server's own message, from its captured output
