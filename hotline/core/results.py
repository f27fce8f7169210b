"""One typed shape per result, defined once: the pipeline returns these, the API serves them, the docs show them.

Classification (:class:`Prediction`), FAQ search (:class:`FaqHit`, :class:`SearchResult`), the assist result
(:class:`AssistResult`), live calls (:class:`CallState`, :class:`TicketDraft`, :class:`EndCallResult`),
notices, incidents and feedback. Field names are the HTTP API's contract; ``/docs`` and the widget read the
JSON schema generated from these classes (``GET /openapi.json``).

Example:
    >>> hit = FaqHit(id="kb-001", score=0.91, question="宽带连不上怎么办", answer="请先重启光猫", category=None)
    >>> SearchResult(text="宽带连不上", hits=[hit], no_answer=False, confidence=0.9).hits[0].id
    'kb-001'
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Speaker", "NoticeKind", "FeedbackKind", "Category", "ServiceProb", "Prediction", "FaqHit", "SearchResult", "TicketField", "PiiSpan", "AssistResult",
    "Turn", "CallCategory", "TicketFieldState", "TicketDraft", "EscalationReason", "Escalation", "Reply",
    "Notice", "Incident", "CallState", "CallBrief", "EndTicket", "EndCallResult", "Feedback",
    "QaVerdict", "QaFlag", "QaScorecard", "QaFlagRate", "QaAgentSummary", "QaTeamFlag", "QaTeamSummary",
    "ComplaintGrade", "THREAT_TYPES",
]


class Speaker(str, Enum):
    CUSTOMER = "customer"
    AGENT = "agent"


class NoticeKind(str, Enum):
    OUTAGE = "outage"
    PLANNED = "planned"


class ComplaintGrade(str, Enum):
    """How urgently a complaint must be handled (:mod:`hotline.pipeline.grading`): 普通 (ordinary), 重要 (important),
    紧急 (urgent)."""

    ORDINARY = "普通"
    IMPORTANT = "重要"
    URGENT = "紧急"


class FeedbackKind(str, Enum):
    SUGGESTION_USED = "suggestion_used"
    SUGGESTION_UNHELPFUL = "suggestion_unhelpful"
    CATEGORY_WRONG = "category_wrong"
    CATEGORY_RIGHT = "category_right"


class _Result(BaseModel):
    # results are built by our own code from checked values; extra keys are a bug, so they are refused
    model_config = ConfigDict(extra="forbid")


# -- classification ---------------------------------------------------------------------------
class Category(_Result):
    """One leaf of the taxonomy with its calibrated probability."""

    code: str = Field(description="leaf code, e.g. broadband.cannot_connect")
    prob: float
    service: str = Field(description="service code, e.g. broadband")
    service_name: str = Field(description="service name, e.g. 宽带")
    phenomenon: str = Field(description="phenomenon name, e.g. 宽带无法连接")


class ServiceProb(_Result):
    """A service's probability: the sum of its leaves' probabilities."""

    service: str
    name: str
    prob: float


class Prediction(_Result):
    """The classification of one utterance."""

    text: str = Field(description="the utterance after normalisation and PII masking")
    label: str
    confidence: float
    top: list[Category]
    services: list[ServiceProb]
    abstain: bool
    abstain_reason: str | None = Field(description="low_confidence | not_a_complaint | null")
    is_complaint: bool


# -- retrieval --------------------------------------------------------------------------------
class FaqHit(_Result):
    """One FAQ entry found for a query."""

    id: str
    score: float
    question: str
    answer: str
    category: str | None = None


class SearchResult(_Result):
    """The FAQ hits of one query, with the calibrated "no good answer" decision."""

    text: str = Field(default="", description="the query after PII masking")
    hits: list[FaqHit]
    no_answer: bool
    confidence: float | None = None


# -- assist -----------------------------------------------------------------------------------
class TicketField(_Result):
    """A ticket field the handling spec asks for, with the value found in the text (phones masked)."""

    name: str
    label: str
    required: bool
    value: str | None


class PiiSpan(_Result):
    """Where a masked entity was in the utterance (offsets into the normalised text)."""

    type: str = Field(description="phone | id_card | bank_card")
    start: int
    end: int


class AssistResult(_Result):
    """Everything the agent's screen shows for one utterance."""

    text: str
    label: str
    confidence: float
    categories: list[Category]
    services: list[ServiceProb]
    abstain: bool
    abstain_reason: str | None
    is_complaint: bool
    faqs: list[FaqHit]
    no_answer: bool
    spec: dict[str, Any] | None = Field(description="the handling spec of the top category")
    ticket_fields: list[TicketField]
    pii: list[PiiSpan]
    timings_ms: dict[str, float] = Field(default_factory=dict)


# -- live calls -------------------------------------------------------------------------------
class Turn(_Result):
    idx: int
    speaker: Speaker
    text: str = Field(description="normalised, PII-masked")
    ts: str


class CallCategory(_Result):
    """The call-level conclusion shown to the agent."""

    label: str
    confidence: float
    service: str
    service_name: str
    phenomenon: str
    top: list[Category]
    service_prob: float | None = Field(default=None, description="probability of the label's service")
    evidence: list[int] = Field(description="idx of the turns that drove the label")
    stable: bool
    abstain: bool
    abstain_reason: str | None = Field(
        default=None, description="out_of_scope (not a telecom complaint) | leaf_uncertain (shown at service "
                                  "level) | low_confidence | null")
    level: str = Field(default="leaf", description="what to show: leaf | service (the service's guidance) | none")
    is_complaint: bool


class TicketFieldState(_Result):
    model_config = ConfigDict(extra="allow")  # a slot may carry its own extras (e.g. the resolved ISO time)

    name: str
    label: str
    required: bool
    value: str | None = Field(description="masked for phone numbers")
    evidence_turn: int | None
    resolved: str | None = None


class TicketDraft(_Result):
    category: str | None
    fields: list[TicketFieldState]
    missing: list[str]
    suggested_questions: list[str]
    dispatch_route: str | None
    grade: ComplaintGrade = Field(default=ComplaintGrade.ORDINARY, description="普通 | 重要 | 紧急: raised by "
                                  "regulator/media/legal threats, anger, mass incidents, VIP customers, repeat calls")
    grade_reasons: list[str] = Field(default_factory=list, description="what raised the grade, e.g. threat:regulator, vip")
    time_limit_h: float | None = Field(default=None, description="the handling spec's time limit (24小时内回复 → 24)")
    deadline: str | None = Field(default=None, description="ISO 8601: the call's start plus time_limit_h")


THREAT_TYPES = ("regulator", "media", "legal")
"""Escalation reason types that are threats: ``high`` on their own (:mod:`hotline.pipeline.escalation`) and a
complaint graded urgent (:mod:`hotline.pipeline.grading`)."""


class EscalationReason(_Result):
    type: str
    match: str
    turn: int


class Escalation(_Result):
    escalate: bool
    level: str = Field(description="none | watch | high")
    reasons: list[EscalationReason]


class Reply(_Result):
    source: str = Field(description="notice | faq: notices come first")
    id: str | None
    title: str | None
    text: str | None
    score: float | None = None


class Notice(_Result):
    id: str
    title: str
    kind: NoticeKind
    regions: list[str]
    services: list[str]
    categories: list[str]
    starts_at: str
    ends_at: str
    script: str
    created_at: str


class Incident(_Result):
    """Many distinct calls about one fault family in one place, close in time (``pipeline.live.incidents``)."""

    id: str
    type: str = "mass_incident"
    code: str = Field(description="the family's most frequent leaf among the incident's calls")
    region: str = Field(description="the place: 南京市江宁区, 江宁区 (city unknown), 南京市 (city-wide)")
    call_ids: list[str]
    count: int
    first: str
    last: str
    raised_at: str
    status: str | None = None
    family: str | None = Field(default=None, description="fault family (data/kb/fault_families.json), e.g. mobile_network")
    sub_area: str | None = Field(default=None, description="the place the callers named most (road, 小区, landmark), or null")
    draft_notice: dict[str, Any] | None = Field(
        default=None, description="a POST /v1/notices body for this incident (title, kind, regions, services, "
                                  "categories, starts_at, ends_at, script): check it, then publish it as is")


class CallState(_Result):
    """What the agent's screen shows for a live call."""

    call_id: str
    region: str
    started_at: str
    status: str = Field(description="active | ended | expired")
    customer: dict[str, str]
    turns: list[Turn] = Field(description="the latest turns (HOTLINE_STATE_RECENT_TURNS); every turn: "
                              "GET /v1/calls/{call_id}/transcript or ?full=true")
    turn_count: int = Field(default=0, description="turns said so far; more than len(turns) when earlier ones are left out")
    category: CallCategory | None
    faqs: list[FaqHit]
    no_answer: bool
    spec: dict[str, Any] | None
    checklist: list[str]
    ticket: TicketDraft
    notices: list[Notice]
    incidents: list[Incident]
    replies: list[Reply] = Field(description="what the agent can say, notices first, then FAQ answers")
    escalation: Escalation
    updated_at: str


class CallBrief(_Result):
    call_id: str
    region: str
    status: str
    started_at: str
    label: str | None
    escalate: bool
    turns: int
    updated_at: str


class EndTicket(TicketDraft):
    dispatch_copy: dict[str, Any] = Field(description="unmasked values for the dispatch system; do not log")


class EndCallResult(_Result):
    summary: str
    ticket: EndTicket
    state: CallState


# -- feedback ---------------------------------------------------------------------------------
class Feedback(_Result):
    id: int
    created_at: str
    call_id: str | None
    kind: FeedbackKind
    target: str | None
    correct_label: str | None
    text: str | None
    note: str | None


# -- QA scorecards (batch analysis of recorded calls) -----------------------------------------
class QaVerdict(str, Enum):
    """Whose failure a low QA pass rate is: one agent's, or the whole team's (a training issue)."""

    OK = "ok"
    INDIVIDUAL = "individual"
    TEAM_WIDE = "team_wide"
    TOO_FEW_CALLS = "too_few_calls"


class QaFlag(_Result):
    """One QA check of one call, with the agent turn that decided it."""

    flag: str = Field(description="rule name from data/qa/rules.json, e.g. greeting, forbidden_phrase")
    passed: bool = Field(description="for forbidden_phrase: no forbidden phrase was said")
    turn: int | None = Field(description="index into the call's turns of the agent turn that decided the flag "
                             "(for forbidden_phrase the offending turn); None when no single turn did")
    evidence: str = Field(description="short PII-masked text that decided the flag, or why it failed")
    component: str | None = Field(default=None, description="the rule component that matched, e.g. light_promise")


class QaScorecard(_Result):
    """The QA scorecard of one recorded call."""

    call_id: str | None = None
    agent_id: str | None = None
    team: str | None = None
    passed: bool = Field(description="every flag passed")
    flags: list[QaFlag]


class QaFlagRate(_Result):
    """How often one flag passed over some calls, and whose failure it is."""

    flag: str
    calls: int
    passed: int
    pass_rate: float
    verdict: QaVerdict


class QaAgentSummary(_Result):
    agent_id: str
    team: str
    calls: int
    pass_rate: float = Field(description="share of the agent's calls on which every flag passed")
    flags: list[QaFlagRate]


class QaTeamFlag(QaFlagRate):
    agents_below: list[str] = Field(description="agents (with enough calls) below the pass target on this flag")
    individual: list[str] = Field(description="agents whose failure on this flag is their own, well below the rest")


class QaTeamSummary(_Result):
    team: str
    calls: int
    agents: int
    pass_rate: float = Field(description="share of the team's calls on which every flag passed")
    flags: list[QaTeamFlag]
