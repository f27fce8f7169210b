"""Real server processes: kill -9 loses nothing acknowledged and live calls continue after the restart;
two replicas on one PostgreSQL raise one incident from calls spread over both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.slow

CHINA = timezone(timedelta(hours=8))
OUTAGE = ["我家宽带突然断网了，光猫上的LOS灯一直闪红灯", "家里宽带从半小时前开始就连不上了，光猫亮红灯",
          "宽带断网了，光猫红灯一直在闪，重启也没用"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``hotline serve`` in its own process (so it can be killed with SIGKILL)."""

    def __init__(self, home, database_url: str, **env: str) -> None:
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_DATABASE_URL": database_url,
                    "HOTLINE_REPLICA_SYNC_S": "0.2", **env}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 240) -> Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "hotline", "serve", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.kill()
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _notice(i: int) -> dict:
    now = datetime.now(CHINA)
    return {"title": f"测试公告{i}", "regions": ["杭州市西湖区"], "services": ["broadband"],
            "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=5)).isoformat(),
            "script": "您好，您所在区域宽带线路正在抢修，预计今天内恢复。"}


def test_kill_9_loses_nothing_acknowledged(tiny_home, tmp_path, new_key):
    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    settings = tiny_home.model_copy(update={"database_url": url})
    sup = {"Authorization": f"Bearer {new_key(settings, 'supervisor')}"}
    server = Server(tiny_home.home, url).start()
    acked = {"notices": [], "feedback": [], "turns": {}}
    try:
        with httpx.Client(base_url=server.url, headers=sup, timeout=30) as c:
            for i in range(3):
                call_id = f"dur-{i}"
                assert c.post("/v1/calls", json={"call_id": call_id, "region": "杭州市西湖区"}).status_code == 201
                acked["turns"][call_id] = []
                for j, text in enumerate(OUTAGE):
                    r = c.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": text,
                                                                         "utterance_id": f"u{j}"})
                    assert r.status_code == 200
                    acked["turns"][call_id].append(r.json()["turns"][-1]["text"])  # as stored: normalised, masked
                r = c.post("/v1/notices", json=_notice(i))
                assert r.status_code == 201
                acked["notices"].append(r.json()["id"])
                r = c.post("/v1/feedback", json={"kind": "suggestion_unhelpful", "call_id": call_id, "note": f"n{i}"})
                assert r.status_code == 201
                acked["feedback"].append(r.json()["id"])
        server.kill()  # SIGKILL right after the last acknowledgement: no shutdown hook runs
        server.start()
        with httpx.Client(base_url=server.url, headers=sup, timeout=30) as c:
            assert set(acked["notices"]) <= {n["id"] for n in c.get("/v1/notices").json()["notices"]}
            assert set(acked["feedback"]) <= {f["id"] for f in c.get("/v1/feedback").json()["feedback"]}
            for call_id, texts in acked["turns"].items():
                state = c.get(f"/v1/calls/{call_id}", params={"full": "true"}).json()
                assert [t["text"] for t in state["turns"]] == texts, call_id
                # the call continues where it stopped; a retried turn is not added twice
                r = c.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": OUTAGE[-1],
                                                                     "utterance_id": "u2"})
                assert r.status_code == 200 and r.json()["turn_count"] == len(texts)
                r = c.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "agent", "text": "好的，我帮您查一下"})
                assert r.status_code == 200 and r.json()["turn_count"] == len(texts) + 1
            end = c.post("/v1/calls/dur-0/end")
            assert end.status_code == 200
            ended = c.get("/v1/ended-calls/dur-0").json()
            assert ended["call_id"] == "dur-0" and len(ended["state"]["turns"]) == 4
    finally:
        server.stop()


def test_two_replicas_one_postgres_one_incident(tiny_home, postgres_db, new_key):
    settings = tiny_home.model_copy(update={"database_url": postgres_db})
    sup = {"Authorization": f"Bearer {new_key(settings, 'supervisor')}"}
    a = Server(tiny_home.home, postgres_db).start()
    b = Server(tiny_home.home, postgres_db).start()
    try:
        ca = httpx.Client(base_url=a.url, headers=sup, timeout=30)
        cb = httpx.Client(base_url=b.url, headers=sup, timeout=30)
        for i in range(10):
            first, second = (ca, cb) if i % 2 else (cb, ca)
            call_id = f"rep-{i}"
            assert first.post("/v1/calls", json={"call_id": call_id, "region": "南京市江宁区"}).status_code == 201
            # the next turn lands on the other replica: it continues the call from the store
            for k, text in enumerate(OUTAGE[:2]):
                client = first if k == 0 else second
                r = client.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": text})
                assert r.status_code == 200, r.text
            assert r.json()["turn_count"] == 2
        time.sleep(1.0)  # both replicas have read the whole incident log by now (sync every 0.2 s)
        inc_a = ca.get("/v1/incidents").json()["incidents"]
        inc_b = cb.get("/v1/incidents").json()["incidents"]
        assert len(inc_a) == 1 and [i["id"] for i in inc_a] == [i["id"] for i in inc_b]
        assert sorted(inc_a[0]["call_ids"]) == sorted(f"rep-{i}" for i in range(10))
        # a notice published on one replica is served by the other
        n = ca.post("/v1/notices", json=_notice(99)).json()
        time.sleep(0.6)
        assert n["id"] in [x["id"] for x in cb.get("/v1/notices").json()["notices"]]
    finally:
        a.stop()
        b.stop()
