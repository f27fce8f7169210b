"""Request schemas of the live-call API (calls, notices, feedback), with limits taken from :class:`Settings`.

Responses are the shared result models of :mod:`hotline.core.results` (:class:`CallState`,
:class:`EndCallResult`, :class:`Notice` …); only the list wrappers live here. The request classes are made per
app by :func:`live_request_models`, so ``HOTLINE_MAX_TEXT_CHARS`` changes what the API accepts (and what
``/docs`` shows). Utterance checks reuse :func:`hotline.core.validate.check_text`, so messages match the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hotline.core.errors import InvalidInputError
from hotline.core.results import (
    CallBrief,
    Feedback,
    FeedbackKind,
    Incident,
    Notice,
    NoticeKind,
    Speaker,
    Turn,
)
from hotline.core.settings import Settings
from hotline.core.validate import CALL_ID_PATTERN, check_text

__all__ = ["LiveRequests", "live_request_models", "CallList", "NoticeList", "IncidentList", "FeedbackList",
           "Transcript"]

_MAX_REGION = 64
# ASR and agents produce turns like "13812345678" or "OK": no Chinese, still a real utterance.
_PLAIN_ASCII = re.compile(r"[0-9A-Za-z +\-.,:;!?#*/()]{1,200}")


class CallList(BaseModel):
    calls: list[CallBrief]


class Transcript(BaseModel):
    """Every turn of a live call that is kept (the latest ``HOTLINE_MAX_TURNS_PER_CALL``), oldest first."""

    call_id: str
    turn_count: int = Field(description="turns said so far; more than len(turns) once the oldest were dropped")
    turns: list[Turn]


class NoticeList(BaseModel):
    notices: list[Notice]


class IncidentList(BaseModel):
    incidents: list[Incident]


class FeedbackList(BaseModel):
    feedback: list[Feedback]


@dataclass(frozen=True)
class LiveRequests:
    start_call: type[BaseModel]
    utterance: type[BaseModel]
    notice: type[BaseModel]
    feedback: type[BaseModel]


_EARLIEST = datetime(2, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9998, 12, 31, tzinfo=timezone.utc)


def _aware(v: datetime | None, field: str) -> datetime | None:
    if v is not None and (v.tzinfo is None or v.utcoffset() is None):
        raise ValueError(f"{field} must carry a UTC offset, e.g. '2024-05-01T09:00:00+08:00' or '...Z'")
    # The engine stores times in UTC and counts windows (minutes to days) around them: a time within a year of
    # the calendar's ends (0001-01-01T00:00+14:00 has no UTC form at all) cannot be worked with, and no call
    # happens then. (Comparing aware datetimes never overflows.)
    if v is not None and not _EARLIEST <= v <= _LATEST:
        raise ValueError(f"{field} {v.isoformat()} is too close to the ends of the calendar (years 1 and 9999); "
                         "send the real time, e.g. '2024-05-01T09:00:00+08:00'")
    return v


def _utterance(v: str, max_chars: int) -> str:
    try:
        return check_text(v, max_chars=max_chars, field="text")
    except InvalidInputError:
        s = v.strip() if isinstance(v, str) else v
        if isinstance(s, str) and _PLAIN_ASCII.fullmatch(s):
            return s
        raise


def live_request_models(settings: Settings) -> LiveRequests:
    """The request classes of ``/v1/calls``, ``/v1/notices`` and ``/v1/feedback`` under ``settings``' limits."""
    max_chars = settings.max_text_chars

    class StartCallRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
            {"call_id": "c-20240501-0001", "region": "杭州市西湖区", "started_at": "2024-05-01T09:00:00+08:00",
             "customer": {"phone": "13812345678"}}]})

        call_id: str | None = Field(default=None, pattern=CALL_ID_PATTERN,
                                    description="your id for the call (letters, digits, _.:-); omitted → generated")
        region: str = Field(min_length=1, max_length=_MAX_REGION, description="where the customer is, e.g. 杭州市西湖区")
        started_at: datetime | None = Field(default=None, description="ISO 8601 with offset; default now")
        customer: dict[str, str] | None = Field(default=None, max_length=20,
                                                description="known customer data by ticket field name, e.g. {'phone': …}")

        @field_validator("region")
        @classmethod
        def _region(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("region must not be blank; send the caller's city/district, e.g. 杭州市西湖区")
            return v.strip()

        @field_validator("started_at")
        @classmethod
        def _started(cls, v: datetime | None) -> datetime | None:
            return _aware(v, "started_at")

        @field_validator("customer")
        @classmethod
        def _customer(cls, v: dict[str, str] | None) -> dict[str, str] | None:
            for k, val in (v or {}).items():
                if len(k) > 64 or len(val) > 200:
                    raise ValueError(f"customer[{k[:40]!r}]: keys ≤ 64 and values ≤ 200 characters")
            return v

    class UtteranceRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
            {"speaker": "customer", "text": "我家宽带从昨天晚上开始就连不上了，光猫亮红灯"}]})

        speaker: Speaker
        text: str = Field(max_length=max_chars * 2, description=f"one turn, at most {max_chars} characters")
        ts: datetime | None = Field(default=None, description="when it was said (ISO 8601 with offset); default now")
        utterance_id: str | None = Field(default=None, pattern=CALL_ID_PATTERN,
                                         description="your id for this turn (letters, digits, _.:-; at most 64); "
                                         "a retry with the same id returns the call's state without adding the "
                                         "turn again")

        @field_validator("text")
        @classmethod
        def _text(cls, v: str) -> str:
            return _utterance(v, max_chars)

        @field_validator("ts")
        @classmethod
        def _ts(cls, v: datetime | None) -> datetime | None:
            return _aware(v, "ts")

    class NoticeRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
            "title": "西湖区光缆中断抢修", "kind": "outage", "regions": ["杭州市西湖区"], "services": ["broadband"],
            "starts_at": "2024-05-01T08:00:00+08:00", "ends_at": "2024-05-01T20:00:00+08:00",
            "script": "您好，您所在的西湖区部分小区因光缆中断正在抢修，预计今晚8点前恢复，给您带来不便非常抱歉。"}]})

        title: str = Field(min_length=1, max_length=100)
        kind: NoticeKind = NoticeKind.OUTAGE
        regions: list[str] = Field(min_length=1, max_length=50, description="areas; a call inside one matches")
        services: list[str] = Field(default_factory=list, max_length=20, description="service codes, e.g. broadband")
        categories: list[str] = Field(default_factory=list, max_length=60, description="leaf codes, e.g. data.slow")
        starts_at: datetime
        ends_at: datetime
        script: str = Field(min_length=1, max_length=max_chars, description="what the agent reads to the caller")

        @field_validator("starts_at", "ends_at")
        @classmethod
        def _tz(cls, v: datetime, info: ValidationInfo) -> datetime:
            return _aware(v, info.field_name or "time")

        @model_validator(mode="after")
        def _span(self) -> NoticeRequest:
            if self.ends_at <= self.starts_at:
                raise ValueError(
                    f"ends_at ({self.ends_at.isoformat()}) must be after starts_at ({self.starts_at.isoformat()})"
                )
            return self

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
            {"call_id": "c-20240501-0001", "kind": "category_wrong", "target": "broadband.slow",
             "correct_label": "broadband.cannot_connect"},
            {"call_id": "c-20240501-0001", "kind": "suggestion_used", "target": "kb-012"}]})

        kind: FeedbackKind
        call_id: str | None = Field(default=None, pattern=CALL_ID_PATTERN)
        target: str | None = Field(default=None, max_length=128, description="FAQ id or category label")
        correct_label: str | None = Field(default=None, max_length=128, description="required for category_wrong")
        text: str | None = Field(default=None, max_length=max_chars * 2,
                                 description="utterance(s) concerned; omitted → the live call's customer turns")
        note: str | None = Field(default=None, max_length=1000)

        @field_validator("text")
        @classmethod
        def _text(cls, v: str | None) -> str | None:
            return None if v is None else _utterance(v, max_chars)

        @model_validator(mode="after")
        def _label(self) -> FeedbackRequest:
            if self.kind == FeedbackKind.CATEGORY_WRONG and not self.correct_label:
                raise ValueError(
                    "correct_label is required when kind is 'category_wrong', e.g. 'broadband.cannot_connect'"
                )
            return self

    return LiveRequests(start_call=StartCallRequest, utterance=UtteranceRequest, notice=NoticeRequest,
                        feedback=FeedbackRequest)
