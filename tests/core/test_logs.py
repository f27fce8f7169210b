"""JSON logs with request ids, and no raw caller input in any log line (messages, args, extras, tracebacks)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import threading

import anyio
import pytest

from hotline.core.logs import (
    RedactFilter,
    RequestIdFilter,
    RequestIdMiddleware,
    configure_logging,
    logging_config,
    redact,
    request_id_var,
)

PHONE = "13812345678"
ID_CARD = "110101199003074578"


@pytest.fixture
def logs():
    """Root logging into a buffer for the test; the root handlers and level are restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    configure_logging("DEBUG", stream=buf)

    def lines() -> list[dict]:
        return [json.loads(x) for x in buf.getvalue().splitlines()]

    yield lines
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_json_lines_carry_the_request_id(logs):
    log = logging.getLogger("hotline.test")
    log.info("outside")
    token = request_id_var.set("req-42")
    try:
        log.info("inside %d", 1)
    finally:
        request_id_var.reset(token)
    out = logs()
    assert out[0]["request_id"] == "-" and out[1] == {**out[1], "message": "inside 1", "request_id": "req-42",
                                                     "level": "INFO", "logger": "hotline.test"}
    assert "time" in out[1]


def test_pii_is_masked_in_message_args_and_extras(logs):
    logging.getLogger("x").warning("caller %s said %r", PHONE, {"id": ID_CARD}, extra={"text": f"打{PHONE}"})
    (line,) = logs()
    raw = json.dumps(line, ensure_ascii=False)
    assert PHONE not in raw and ID_CARD not in raw
    assert "138****5678" in line["message"] and line["text"] == "打138****5678"


def test_pii_is_masked_in_a_logged_traceback(logs):
    def handle(text: str) -> None:
        raise ValueError(f"cannot parse utterance {text!r}")

    try:
        handle(f"我的电话是{PHONE}，身份证{ID_CARD}")
    except ValueError:
        logging.getLogger("x").exception("utterance failed")
    (line,) = logs()
    raw = json.dumps(line, ensure_ascii=False)
    assert PHONE not in raw and ID_CARD not in raw
    assert "Traceback (most recent call last)" in line["exception"] and "138****5678" in line["exception"]
    assert "\n  File " in line["exception"]  # still a readable traceback: lines and indentation kept


def test_long_values_are_cut_and_a_cut_never_splits_a_number_unmasked(logs):
    huge = "宽" * 1999 + PHONE + "带" * 100_000
    logging.getLogger("x").info("got %s", huge)
    try:
        raise RuntimeError(huge)
    except RuntimeError:
        logging.getLogger("x").error("failed", exc_info=True)
    first, second = logs()
    assert len(first["message"]) < 2100 and "1381234" not in first["message"]
    assert len(second["exception"]) < 9000 and PHONE not in second["exception"]


def test_redact_keeps_short_text_and_masks_it():
    assert redact(f"call from {PHONE}") == "call from 138****5678"
    out = redact("x" * 10 + PHONE, limit=14)
    assert out.startswith("xxxxxxxxxx138*") and "1381234" not in out


def test_the_filters_work_on_a_plain_text_handler():
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    log = logging.getLogger("plain-test")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise KeyError(PHONE)
        except KeyError:
            log.exception("lookup of %s", PHONE)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    text = buf.getvalue()
    assert text.startswith("[-] lookup of 138****5678") and PHONE not in text and "KeyError" in text


def test_logging_config_is_a_dictconfig_for_uvicorn():
    cfg = logging_config("INFO", json=False)
    assert cfg["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": True}
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logging.config.dictConfig(cfg)
        assert any(isinstance(f, RedactFilter) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


# -- the request-id middleware ------------------------------------------------------------------------------
def _call(app, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": "GET", "path": "/v1/calls/c1", "headers": headers}
    anyio.run(RequestIdMiddleware(app), scope, receive, send)
    return sent


async def _logging_app(scope, receive, send):
    log = logging.getLogger("hotline.test.app")
    log.info("in the loop")
    await anyio.to_thread.run_sync(lambda: log.info("in a worker thread %s", threading.current_thread().name))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_middleware_sets_the_id_returns_it_and_logs_access(logs):
    sent = _call(_logging_app, [(b"x-request-id", b"abc-123")])
    assert (b"x-request-id", b"abc-123") in sent[0]["headers"]
    out = logs()
    app_lines = [x for x in out if x["logger"] == "hotline.test.app"]
    assert len(app_lines) == 2 and all(x["request_id"] == "abc-123" for x in app_lines)
    (access,) = [x for x in out if x["logger"] == "hotline.access"]
    assert access["request_id"] == "abc-123" and access["status"] == 204 and access["path"] == "/v1/calls/c1"
    assert access["method"] == "GET" and access["duration_ms"] >= 0
    assert request_id_var.get() == "-"  # reset after the request


@pytest.mark.parametrize("given", [b"", b"has space", b"x" * 65, "中文".encode()])
def test_a_bad_or_missing_request_id_is_replaced(logs, given):
    sent = _call(_logging_app, [(b"x-request-id", given)] if given else [])
    rid = dict(sent[0]["headers"])[b"x-request-id"].decode()
    assert rid != given.decode("utf-8", "replace") and len(rid) == 32
    assert all(x["request_id"] == rid for x in logs() if x["logger"].startswith("hotline"))
