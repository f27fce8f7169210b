"""Fuzzing of the whole HTTP API, in process, on a real tiny build: no request may get a 5xx.

Two fuzzers share one app (``create_app`` on a copy of tests/conftest.py ``tiny_home``):

- **schema-driven** (schemathesis): every operation of ``/openapi.json``, with inputs generated from its schema,
  valid (``positive``) and schema-breaking (``negative``); path ids are steered to live calls and notices half
  the time, so the code behind a found id runs too;
- **raw bodies** (hypothesis): what schemathesis never sends: Chinese speech that passes validation and runs
  the models (dates at the calendar's ends, 三千年前, huge numbers, PII), lone UTF-16 surrogates as JSON
  escapes, control characters, odd datetimes, retried utterance ids; each body is also sent as broken clients
  send it (NaN / Infinity / 1e999 for a value, cut short, invalid UTF-8, nested past the recursion limit).

Every answer must be below 500, and every 4xx must be JSON with a ``detail``. The budget is set so the whole run
makes at least :data:`TARGET` requests; ``make fuzz`` runs it (CI too) and prints the count. Scale it with
``HOTLINE_FUZZ_EXAMPLES`` (per operation and mode) and ``HOTLINE_FUZZ_RAW_EXAMPLES`` (per raw endpoint).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from hotline.core.settings import Settings
from hotline.serve.app import create_app

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency: pip install -e '.[dev]'")
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.python import asgi  # noqa: E402

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "40"))
RAW_EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_RAW_EXAMPLES", "280"))
TARGET = int(os.environ.get("HOTLINE_FUZZ_TARGET", "10000"))
"""Fewest requests the whole run must make (checked by the last test when every fuzz test ran)."""

# One run is deterministic (derandomize): CI fails only on a real regression, and a failure reproduces.
FUZZ = dict(deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck))


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the API documents; the schema needs no models, so this runs at import."""
    spec = create_app(Settings(home=Path("/nonexistent-hotline-home"), auth_enabled=False)).openapi()
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "put",
                                                                                       "patch", "delete")]


OPERATIONS = _operations()


# -- the app under test ---------------------------------------------------------------------------
@dataclass
class Fuzz:
    app: Any
    schema: Any
    client: Any  # schemathesis' in-process ASGI client (requests API), sharing the app's lifespan
    headers: dict[str, str]
    call_ids: list[str] = field(default_factory=list)
    notice_ids: list[str] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)  # per operation or raw endpoint
    accepted: int = 0  # answered 2xx: the input went all the way through (models, engine, store)
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(self, where: str, method: str, url: str, status: int, body: bytes, ctype: str, sent: Any) -> None:
        """Count one answer; keep a reproducible line for a 5xx, or a 4xx that is not JSON with a detail."""
        self.requests[where] += 1
        self.accepted += 200 <= status < 300
        problem = None
        if status >= 500:
            problem = f"{status}"
        elif 400 <= status < 500:
            try:
                detail = json.loads(body)["detail"]
                if not detail:
                    problem = f"{status} with an empty detail"
            except (ValueError, KeyError, TypeError):
                problem = f"{status} without a JSON detail"
        if problem is not None and len(self.failures) < 200:
            self.failures.append(f"{problem}: {method} {url} sent {str(sent)[:300]!r} got {body[:300]!r}")


def fuzz_headers(app: Any) -> dict[str, str]:
    """The headers every fuzz request carries: an admin key (authentication is on, as in production), so
    every route is reached past the door and the auth middleware itself is fuzzed too."""
    secret, _ = app.state.keys.create("admin", name="fuzz")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def fuzz(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The app on a copy of the tiny test build, or of the build in ``HOTLINE_FUZZ_HOME`` when set (to fuzz a
    real one), with its live objects; the store and feedback go to a temporary folder."""
    work = tmp_path_factory.mktemp("fuzz")
    home = work / "home"
    source = os.environ.get("HOTLINE_FUZZ_HOME") or request.getfixturevalue("tiny_home").home
    shutil.copytree(Path(source).expanduser(), home, ignore=shutil.ignore_patterns("*.sqlite3*", "data"))
    settings = Settings(
        home=home, feedback_db=work / "feedback.sqlite3",
        database_url=f"sqlite:///{work / 'store.sqlite3'}",
        # the fuzzer is one client sending thousands of requests: limits meant for production would answer
        # 429/503 by design, which says nothing about the input
        max_calls=100_000, rate_limit="", max_in_flight=10_000, log_json=False,
    )
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with asgi.get_client(app) as client:  # starts the lifespan once: models load here
        f = Fuzz(app=app, schema=schema, client=client, headers=fuzz_headers(app))
        for i in range(12):  # live objects for the path ids to hit
            r = client.post("/v1/calls", json={"call_id": f"fz-{i}", "region": "杭州市西湖区"}, headers=f.headers)
            assert r.status_code == 201, r.text
            f.call_ids.append(f"fz-{i}")
        r = client.post("/v1/notices", headers=f.headers, json={
            "title": "西湖区光缆中断抢修", "regions": ["杭州市西湖区"], "services": ["broadband"],
            "starts_at": "2024-05-01T08:00:00+08:00", "ends_at": "2099-05-01T20:00:00+08:00", "script": "正在抢修"})
        assert r.status_code == 201, r.text
        f.notice_ids.append(r.json()["id"])
        yield f
    asgi.shutdown_lifespans()


def _assert_clean(fuzz: Fuzz, before: int) -> None:
    new = fuzz.failures[before:]
    assert not new, f"{len(new)} bad answers, e.g.:\n" + "\n".join(new[:10])


# -- schema-driven ------------------------------------------------------------------------------
_STEER = {"call_id": "call_ids", "notice_id": "notice_ids"}
# a reload loads and warms every model again (seconds): a few are enough to show it never fails
_FEW = {("POST", "/v1/admin/reload"): 2}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_schema_fuzz(fuzz: Fuzz, method: str, path: str) -> None:
    op = fuzz.schema[path][method]
    before = len(fuzz.failures)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(max_examples=_FEW.get((method, path), EXAMPLES), **FUZZ)
        @given(case=op.as_strategy(generation_mode=mode), steer=st.integers(0, 3))
        def run(case: Any, steer: int) -> None:
            for param, pool in _STEER.items():
                ids = getattr(fuzz, pool)
                if case.path_parameters and param in case.path_parameters and steer % 2 == 0 and ids:
                    case.path_parameters[param] = ids[steer % len(ids)]
            r = case.call(headers=fuzz.headers)
            fuzz.record(f"{method} {path}", method, r.request.url, r.status_code, r.content,
                        r.headers.get("content-type", ""), getattr(case, "body", None))

        try:
            run()
        except (Unsatisfiable, FailedHealthCheck):
            # no schema-breaking input exists for this operation (no parameters, no body): nothing to send
            assert mode is GenerationMode.NEGATIVE
    _assert_clean(fuzz, before)


# -- raw bodies -----------------------------------------------------------------------------------
_SPEECH = st.sampled_from([
    "我家宽带三千年前就开始断网了", "99999999年宽带就断了", "2月30日扣了我三十八块", "0000-00-00 开始没信号",
    "9999-12-31 23:59 师傅上门", "九千九百年前办的套餐", "明天夜里两点在家", "大后天晚上十二点", "上上个月31号扣费",
    "光猫亮红灯，宽带连不上", "话费多扣了一百二十八元", "我的号码是幺三八一二三四五六七八", "身份证110101199003071234",
    "银行卡6222021234567890123", "我要投诉到工信部!!!", "国庆节以后网速特别慢", "我在日本东京漫游上不了网",
    "短信上说您的积分即将过期", "宽带账号是hz123456", "不对，最后两位是78", "对", "好的", "你好",
])
_NASTY = st.one_of(
    st.text(max_size=12),
    st.integers(0xD800, 0xDFFF).map(chr),  # a lone surrogate: json.dumps writes it as a \\udXXX escape
    st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u200b", "\ufeff", "\ufffd", "锟斤拷", "æˆ‘", "😀", "\U00020000"]),
    st.integers(0, 10**40).map(str),
    st.tuples(st.sampled_from("宽9零年 ，"), st.integers(100, 2100)).map(lambda t: t[0] * t[1]),
)
TEXT = st.one_of(
    st.lists(_SPEECH, min_size=1, max_size=3).map("，".join),  # passes validation: the models run on it
    st.lists(st.one_of(_SPEECH, _NASTY), min_size=1, max_size=5).map("".join),
)
_TIMES = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+14:00",
                     "0001-01-01T00:00:00-12:00", "0002-01-01T00:00:00+00:00", "9998-12-30T23:59:59+00:00",
                     "0000-00-00", "2024-02-30T00:00:00+08:00", "2024-05-01T09:00:00",
                     "2024-05-01T09:00:00Z", "24:00", "", "now", "9" * 40]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
_NUMBERS = st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False),
                     st.sampled_from([0, 1, 3, 50, 51, True, None, "5"]))
_IDS = st.one_of(st.sampled_from(["fz-0", "fz-1", "fz-new"]), st.text(max_size=70))
_TAIL = st.sampled_from(["", "NaN", "Infinity", "-Infinity", "1e999", "1" * 5000, "-0.0", "1E+2", "[]"])


def _bodies(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "texts":
        return st.one_of(
            st.fixed_dictionaries({"texts": st.lists(TEXT, min_size=1, max_size=3)}, optional={"top_k": _NUMBERS}),
            st.fixed_dictionaries({"text": TEXT}, optional={"top_k": _NUMBERS, "use_category": st.booleans()}),
        )
    if kind == "call":
        return st.fixed_dictionaries({"region": st.one_of(TEXT, st.just("杭州市西湖区"))}, optional={
            "call_id": _IDS, "started_at": _TIMES,
            "customer": st.dictionaries(st.sampled_from(["phone", "name", "x" * 70]), TEXT, max_size=3)})
    if kind == "utterance":
        return st.fixed_dictionaries({"speaker": st.sampled_from(["customer", "agent", "robot"]), "text": TEXT},
                                     optional={"ts": _TIMES, "utterance_id": st.sampled_from(["u1", "u2", "u1"])})
    if kind == "feedback":
        return st.fixed_dictionaries(
            {"kind": st.sampled_from(["category_wrong", "category_right", "suggestion_used", "suggestion_bad", "x"])},
            optional={"call_id": _IDS, "target": TEXT, "correct_label": st.sampled_from(["broadband.slow", "x"]),
                      "text": TEXT, "note": TEXT})
    assert kind == "notice"
    valid = st.fixed_dictionaries({
        "title": _SPEECH, "regions": st.just(["杭州市西湖区"]), "services": st.just(["broadband"]),
        "starts_at": st.sampled_from(["2024-05-01T08:00:00+08:00", "0002-01-01T00:00:00+00:00"]),
        "ends_at": st.sampled_from(["2099-05-01T20:00:00+08:00", "9998-12-30T23:59:59+00:00"]), "script": TEXT})
    return valid | st.fixed_dictionaries({
        "title": TEXT, "regions": st.lists(st.one_of(TEXT, st.just("杭州市西湖区")), min_size=1, max_size=3),
        "starts_at": _TIMES, "ends_at": _TIMES, "script": TEXT,
    }, optional={"services": st.lists(st.sampled_from(["broadband", "mobile", "x"]), max_size=2),
                 "kind": st.sampled_from(["outage", "planned", "x"])})


RAW = [("POST", "/v1/classify", "texts"), ("POST", "/v1/search", "texts"), ("POST", "/v1/assist", "texts"),
       ("POST", "/v1/calls", "call"), ("POST", "/v1/calls/{call_id}/utterances", "utterance"),
       ("POST", "/v1/feedback", "feedback"), ("POST", "/v1/notices", "notice")]


def _variants(body: dict[str, Any], tail: str, depth: int) -> list[bytes]:
    """The body as JSON bytes (surrogates as \\u escapes), then as broken clients send it: with a non-JSON
    constant or an odd number for a value, cut short, as raw UTF-8 with surrogates (and 宽) written as CESU bytes
    (invalid UTF-8 that ``json.loads`` lets in), and wrapped in ``depth`` arrays (past the recursion limit
    when deep)."""
    raw = json.dumps(body, ensure_ascii=True)
    out = [raw.encode()]
    if tail:
        out.append((raw[:-1] + f', "top_k": {tail}}}').encode())
    out.append(raw.encode()[: max(1, len(raw) // 2)])
    cesu = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass").replace("宽".encode(), b"\xed\xa0\x80")
    if cesu not in out:
        out.append(cesu)
    out.append(b"[" * depth + raw.encode() + b"]" * depth)
    return out


@pytest.mark.parametrize(("method", "path", "kind"), RAW, ids=[f"{m} {p}" for m, p, _ in RAW])
def test_raw_body_fuzz(fuzz: Fuzz, method: str, path: str, kind: str) -> None:
    before = len(fuzz.failures)
    # fresh live calls: the schema fuzz may have ended the shared ones
    calls = [f"fz-raw-{path.strip('/').replace('/', '.').replace('{call_id}', 'c')}-{i}" for i in range(12)]
    for cid in calls:
        r = fuzz.client.post("/v1/calls", json={"call_id": cid, "region": "杭州市西湖区"}, headers=fuzz.headers)
        assert r.status_code == 201, r.text

    @settings(max_examples=RAW_EXAMPLES, **FUZZ)
    @given(body=_bodies(kind), tail=_TAIL, depth=st.sampled_from([1, 2, 50, 3000]), call=st.integers(0, 11))
    def run(body: dict[str, Any], tail: str, depth: int, call: int) -> None:
        url = path.replace("{call_id}", calls[call])
        for data in _variants(body, tail, depth):
            r = fuzz.client.request(method, url, data=data,
                                    headers={**fuzz.headers, "content-type": "application/json"})
            fuzz.record(f"raw {method} {path}", method, url, r.status_code, r.content,
                        r.headers.get("content-type", ""), data[:300])

    run()
    _assert_clean(fuzz, before)


def test_retried_utterance_is_not_added_twice(fuzz: Fuzz) -> None:
    """An utterance_id makes a retry safe: the same state back, no second turn; another turn under it is 409."""
    c = fuzz.client
    r = c.post("/v1/calls", json={"call_id": "fz-retry", "region": "杭州市西湖区"}, headers=fuzz.headers)
    assert r.status_code == 201, r.text
    turn = {"speaker": "customer", "text": "我家宽带三千年前就开始断网了", "utterance_id": "t-1"}
    first = c.post("/v1/calls/fz-retry/utterances", json=turn, headers=fuzz.headers)
    again = c.post("/v1/calls/fz-retry/utterances", json=turn, headers=fuzz.headers)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["turn_count"] == first.json()["turn_count"] == 1
    assert again.json()["turns"] == first.json()["turns"]
    other = c.post("/v1/calls/fz-retry/utterances", json={**turn, "text": "好的"}, headers=fuzz.headers)
    assert other.status_code == 409 and "utterance_id 't-1'" in other.json()["detail"]
    fuzz.requests["retries"] += 4


def test_fuzz_total(fuzz: Fuzz, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """The count, printed; at least TARGET requests when every fuzz test of this module ran, and no bad answer."""
    total = sum(fuzz.requests.values())
    schema_n = sum(n for k, n in fuzz.requests.items() if not k.startswith("raw "))
    seconds = time.monotonic() - fuzz.started
    with capsys.disabled():
        print(f"\nfuzz: {total} requests ({schema_n} schema-driven over {len(OPERATIONS)} operations, "
              f"{total - schema_n} raw; {fuzz.accepted} answered 2xx), {len(fuzz.failures)} bad answers "
              f"(5xx or 4xx without a JSON detail), {seconds:.0f}s")
        slowest = ", ".join(f"{k}: {n}" for k, n in fuzz.requests.most_common())
        print(f"fuzz: requests by target: {slowest}")
    assert not fuzz.failures, "\n".join(fuzz.failures[:20])
    ran_all = all(f"{m} {p}" in fuzz.requests for m, p in OPERATIONS) and all(
        f"raw {m} {p}" in fuzz.requests for m, p, _ in RAW)
    if ran_all:
        assert total >= TARGET, f"only {total} requests; raise HOTLINE_FUZZ_EXAMPLES / HOTLINE_FUZZ_RAW_EXAMPLES"
