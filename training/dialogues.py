"""Synthetic whole calls (agent and caller, many turns) for the call-level classifier.

:class:`~hotline.training.generate.CorpusGenerator` writes one caller utterance per record; a real call
also holds the agent's greeting, identity checks, small talk, a first unrelated question, a second issue the
caller puts off, the agent's questions and diagnosis, the fix and the caller confirming it ("好了现在能打电话了"
after a payment problem), and the goodbyes. :class:`DialogueGenerator` writes such calls, every turn tagged
with its :class:`TurnRole`, so that a call model learns which turns carry the category.

Data lives in ``data/generator/``:

* ``phrases/<code>.json`` and ``common.json`` — the caller's complaint and details (``core``, ``short``,
  ``details``, ``asks``), openers, angry markers, fillers, homophones and slots: the same banks, loaded and
  validated by :class:`CorpusGenerator`, so the call model sees the utterance classifier's vocabulary.
* ``dialogue.json`` — shared turns (openings with and without 工号/name, identity checks, phone exchanges,
  small talk, unrelated questions, deferrals, generic fix talk, closings, escalation threats, vague
  complaints by service, regions, extra slots) and, under ``dialogue_by_code``, per leaf code:
  ``agent_diagnosis`` (the agent's finding that makes the category clear), ``resolution`` (the agent's fix
  talk; ``resolution[i]`` fixes ``agent_diagnosis[i]`` and follows it in most calls) and
  ``resolution_customer`` (the caller confirming, often in words of another category: "有信号了" after a
  payment problem). The per-code dialogue banks live there rather than in ``phrases/<code>.json`` so the
  utterance banks keep their schema. ``presents_as`` lists, per code, the symptom codes in whose words a
  caller with that problem often complains first; in a fifth of those calls the complaint is said so, and the
  caller's details and the agent's diagnosis carry the real category.
* ``offtopic_calls.json`` — what callers say in calls that are no telecom complaint (label ``None``).
* ``data/kb/specs.jsonl`` — the agent's diagnostic questions per code (``questions``), paraphrased.

Example:
    >>> gen = DialogueGenerator(seed=1, per_code=2)
    >>> gen.warm_up()
    >>> calls = gen.run(codes=["voice.cannot_call"])["calls"]
    >>> calls[0]["turns"][0]["speaker"], calls[0]["turns"][0]["role"]
    ('agent', 'opening')
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.jsonl import read_jsonl
from hotline.core.resources import data_path
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX
from hotline.training.generate import (
    _COMPLAINT_TONE,
    PUNCTUATION,
    CorpusGenerator,
    _load_json,
    _spoken_digits,
)

__all__ = ["CallStyle", "DialogueGenerator", "TurnRole", "role_records"]

logger = logging.getLogger(__name__)


class TurnRole(str, Enum):
    """What a turn does in the call. ``opening`` also covers the caller's bare "喂，你好"; ``identity`` covers
    the account and callback number as well as 机主姓名, 身份证后四位 and 服务密码."""

    OPENING = "opening"
    SMALLTALK = "smalltalk"
    IDENTITY = "identity"
    UNRELATED = "unrelated"
    COMPLAINT = "complaint"
    DETAIL = "detail"
    AGENT_QUESTION = "agent_question"
    AGENT_DIAGNOSIS = "agent_diagnosis"
    DEFERRED = "deferred"
    RESOLUTION = "resolution"
    CLOSING = "closing"
    OFFTOPIC = "offtopic"


class CallStyle(str, Enum):
    WRITTEN = "written"  # punctuated, digits as digits
    ASR = "asr"  # a recogniser's transcript: no punctuation, fillers, homophone slips, spoken digits


# Share of off-topic calls that sound like telecom at first (offtopic_calls.json "adjacent").
_P_ADJACENT = 0.5
_ADJACENT_KEYS = ("customer", "check", "answer", "verdict")
# Share of labelled calls with each ingredient (the brief's "realistic shares").
_P_DIAGNOSIS = 0.60
_P_VAGUE_GIVEN_DIAGNOSIS = 0.25  # the diagnosis is then the one clear statement of the category
_P_MISLEADING = 0.20  # the complaint in a symptom code's words (dialogue.json "presents_as"); the diagnosis decides
_P_DEFERRED = 0.10
_P_UNRELATED = 0.08
_P_SMALLTALK = 0.12
_P_IDENTITY = 0.22  # with small talk: ~30 % of calls
_P_ANGRY = 0.18
_P_ESCALATION = 0.05
_P_AFTER_PROMPT = 0.20  # the caller only says "喂" and the complaint comes after the agent asks
_P_BACKGROUND_FIRST = 0.10  # the caller starts with background, the complaint comes late
_P_RESOLUTION = 0.88
_P_CLOSING = 0.95
_P_OTHER_NUMBER = 0.06  # someone else's number (老婆的号码…), never slots.phone
_P_SCAM_NUMBER = 0.5  # the reported number in fraud / spam / marketing calls
_QUESTION_COUNTS = ((0, 1, 2, 3), (25, 35, 25, 15))
_PHONE_MODES = (
    ("none", "give", "readback", "split", "correct_agent", "correct_self", "this_number", "inline"),
    (52, 18, 7, 6, 6, 3, 5, 3),
)
_DEFER_AT = (("before", "after", "end"), (25, 45, 30))

# Slot placeholders of the banks whose value a caller's turn gives → key in record["slots"].
_SLOT_KEYS = {"time": "fault_time", "place": "location", "device": "device", "amount": "amount"}
# Placeholders the generator fills itself.
_SPECIALS = frozenset(
    {"agent_id", "id4", "phone", "part1", "part2", "old", "new", "other", "other_phone", "day"}
)
_SLOT_RE = re.compile(r"\{(\w+)\}")
_END_PUNCT = "。！？!?.，,、；;…~～ "
_QUESTION_END = ("吗", "么", "是不是", "对吧", "是吗", "对吗", "多少", "什么", "哪里", "怎么样")
_QUESTION_WORDS = re.compile("请问|多少|什么|哪|怎么|有没有|是不是|能不能|几")
_A_NOT_A = re.compile(r"(.)不\1.?$")  # 强不强, 好不好啊
_ASR_SPLIT = re.compile(r"[\W_]+")
_MIN_PER_CODE = 6
_PER_CODE_KEYS = ("agent_diagnosis", "resolution", "resolution_customer")
_SHARED_LIST_KEYS = (
    "regions", "openings_named", "openings_bare", "customer_greetings", "agent_prompts",
    "smalltalk_customer_first", "smalltalk_agent_first", "identity_owner_ask", "identity_owner_yes",
    "identity_owner_no", "identity_name_ask", "identity_name_give", "identity_name_id_ask",
    "identity_name_id_give", "identity_id_ask", "identity_id_give", "identity_pwd_ask", "identity_pwd_give",
    "identity_ok", "phone_ask", "phone_give", "phone_this_number", "phone_split_first", "phone_split_prompt",
    "phone_split_second", "phone_readback", "phone_confirm", "phone_correct_full", "phone_correct_digit",
    "phone_correct_digit_mid", "phone_misspoke", "phone_inline", "phone_correct_ack", "phone_correct_ack_bare",
    "phone_correct_reconfirm", "third_party_number", "scam_number", "scam_codes", "unrelated", "unrelated_acks",
    "restate_leads", "deferral_before", "deferral_after", "deferral_end", "deferral_agent_ack", "agent_acks",
    "agent_calm", "diagnosis_leads", "agent_questions_generic", "answers_generic", "resolution_requests",
    "resolution_agent_generic", "resolution_customer_generic", "resolution_check_agent",
    "resolution_agent_wrapup", "closing_agent_ask", "closing_customer_no", "closing_agent_bye",
    "closing_customer_bye", "escalation",
)  # fmt: skip
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157",
    "158", "159", "166", "173", "175", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "193", "195", "198", "199",
)  # fmt: skip
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=8)))
# Calls per hour of the day: the centre is busy from 8 to 22 and quiet at night.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 9, 10, 10, 10, 9, 8, 8, 7, 6, 4, 2)


@dataclass
class _Call:
    """One call being written: its turns, the slots its caller gives, and notes for tests and analysis."""

    code: str | None
    rng: random.Random
    style: CallStyle
    phone: str | None = None  # the caller's own number, 11 digits
    fixed: dict[str, str] = field(default_factory=dict)  # generator-filled placeholders
    memory: dict[str, str] = field(default_factory=dict)  # one value per bank slot within a call
    turns: list[dict[str, str]] = field(default_factory=list)
    details_left: list[str] = field(default_factory=list)  # the code's details not yet said
    slots: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.code.split(".", 1)[0] if self.code else ""

    @property
    def inquiry(self) -> bool:
        return bool(self.code and self.code.startswith(NON_COMPLAINT_PREFIX))


class DialogueGenerator:
    """Writes complete multi-turn calls, each turn tagged with a :class:`TurnRole`.

    Args:
        seed: seed of the private ``random.Random`` generators; the same seed gives the same calls.
        per_code: labelled calls per leaf code.
        offtopic_calls: calls with no telecom complaint (label ``None``); ``None`` gives 10 % of the labelled calls.
        asr_share: share of calls written as an ASR transcript (no punctuation, fillers, slips, spoken digits).
        phrases_dir: per-code utterance banks; default ``data/generator/phrases``.
        common_path: shared utterance banks; default ``data/generator/common.json``.
        dialogue_path: call banks; default ``data/generator/dialogue.json``.
        offtopic_path: off-topic bank; default ``data/generator/offtopic_calls.json``.
        specs_path: handling specs with the agent's questions; default ``data/kb/specs.jsonl``.

    A record is ``{"call_id", "region", "started_at", "style", "label", "turns": [{"speaker", "text", "role"}],
    "slots"}``; ``slots`` holds only what the caller gives: ``phone`` (11 digits, after any correction; never
    someone else's or a scammer's number) and ``fault_time``, ``location``, ``device``, ``amount`` as the bank
    phrases filled them.

    Example:
        >>> gen = DialogueGenerator(seed=1, per_code=2, offtopic_calls=1)
        >>> gen.warm_up()
        >>> out = gen.run(codes=["broadband.slow"])
        >>> sorted(c["label"] or "-" for c in out["calls"])
        ['-', 'broadband.slow', 'broadband.slow']
    """

    def __init__(
        self,
        *,
        seed: int = 13,
        per_code: int = 60,
        offtopic_calls: int | None = None,
        asr_share: float = 0.5,
        phrases_dir: str | Path | None = None,
        common_path: str | Path | None = None,
        dialogue_path: str | Path | None = None,
        offtopic_path: str | Path | None = None,
        specs_path: str | Path | None = None,
    ) -> None:
        self.seed = seed
        self.per_code = per_code
        self.offtopic_calls = offtopic_calls
        self.asr_share = asr_share
        self.phrases_dir = phrases_dir
        self.common_path = common_path
        self.dialogue_path = dialogue_path
        self.offtopic_path = offtopic_path
        self.specs_path = specs_path

    # ------------------------------------------------------------------ loading
    def warm_up(self) -> None:
        """Load and validate the banks; idempotent."""
        if getattr(self, "dialogue_", None) is not None:
            return
        if self.per_code <= 0:
            raise InvalidInputError(f"per_code must be > 0, got {self.per_code}")
        if self.offtopic_calls is not None and self.offtopic_calls < 0:
            raise InvalidInputError(f"offtopic_calls must be >= 0 or None, got {self.offtopic_calls}")
        if not 0.0 <= self.asr_share <= 1.0:
            raise InvalidInputError(f"asr_share must be in [0, 1], got {self.asr_share}")
        corpus = CorpusGenerator(
            seed=self.seed, per_code=1, phrases_dir=self.phrases_dir, common_path=self.common_path
        )
        corpus.warm_up()
        common, banks = corpus.common_, corpus.banks_
        dialogue_path = (
            Path(self.dialogue_path) if self.dialogue_path else data_path("generator", "dialogue.json")
        )
        offtopic_path = (
            Path(self.offtopic_path) if self.offtopic_path else data_path("generator", "offtopic_calls.json")
        )
        dialogue = _load_json(dialogue_path)
        offtopic = _load_json(offtopic_path)
        known = set(common["slots"]) | set(dialogue.get("slots", {})) | _SPECIALS
        for key in _SHARED_LIST_KEYS:
            if not isinstance(dialogue.get(key), list) or not dialogue[key]:
                raise ArtifactError(
                    f"{dialogue_path}: key {key!r} is missing or empty; see training/dialogues.py for the schema"
                )
        _check_slots(dialogue_path, {k: dialogue[k] for k in _SHARED_LIST_KEYS}, known)
        _check_slots(dialogue_path, dialogue.get("vague_by_service", {}), known)
        if not dialogue.get("vague_by_service", {}).get("generic"):
            raise ArtifactError(f"{dialogue_path}: 'vague_by_service' needs a non-empty 'generic' list")
        for code, symptoms in dialogue.get("presents_as", {}).items():
            if code.startswith("_"):
                continue
            bad = [c for c in [code, *symptoms] if c not in banks]
            if bad or not isinstance(symptoms, list):
                raise ArtifactError(f"{dialogue_path}: presents_as[{code!r}] names codes without a phrase bank: "
                                    f"{bad}; use taxonomy codes of data/generator/phrases/")
        by_code = dialogue.get("dialogue_by_code", {})
        for code in sorted(banks):
            entry = by_code.get(code)
            if entry is None:
                raise ArtifactError(
                    f"{dialogue_path}: dialogue_by_code has no entry for {code!r}; add "
                    f"{list(_PER_CODE_KEYS)} with >= {_MIN_PER_CODE} lines each"
                )
            for key in _PER_CODE_KEYS:
                lines = entry.get(key)
                if not isinstance(lines, list) or len(lines) < _MIN_PER_CODE:
                    got = len(lines) if isinstance(lines, list) else lines
                    raise ArtifactError(
                        f"{dialogue_path}: dialogue_by_code[{code!r}][{key!r}] needs >= {_MIN_PER_CODE} lines, got {got}"
                    )
            if len(entry["resolution"]) < len(entry["agent_diagnosis"]):
                raise ArtifactError(
                    f"{dialogue_path}: dialogue_by_code[{code!r}] has {len(entry['agent_diagnosis'])} agent_diagnosis "
                    f"lines but {len(entry['resolution'])} resolution lines; resolution[i] is the fix for "
                    "agent_diagnosis[i], so give every diagnosis its fix"
                )
            _check_slots(dialogue_path, entry, known)
        extra = sorted(set(by_code) - set(banks))
        if extra:
            logger.warning("dialogue_by_code entries without a phrase bank are ignored: %s", extra)
        topics = offtopic.get("topics")
        if not isinstance(topics, dict) or not topics:
            raise ArtifactError(f"{offtopic_path}: 'topics' must map topic names to lists of sentences")
        off_known = set(offtopic.get("slots", {}))
        for topic, lines in topics.items():
            if not lines or not offtopic.get("agent_replies", {}).get(topic):
                raise ArtifactError(
                    f"{offtopic_path}: topic {topic!r} needs sentences and a list in 'agent_replies'"
                )
        _check_slots(offtopic_path, {**topics, **offtopic.get("extra", {})}, off_known)
        for key in ("followups_customer", "followups_agent"):
            if not offtopic.get(key):
                raise ArtifactError(f"{offtopic_path}: key {key!r} is missing or empty")
        adjacent = offtopic.get("adjacent")
        if adjacent is not None:
            scenarios = adjacent.get("scenarios") if isinstance(adjacent, dict) else None
            if not isinstance(scenarios, list) or not scenarios or not adjacent.get("followups"):
                raise ArtifactError(f"{offtopic_path}: 'adjacent' needs a non-empty 'scenarios' list and 'followups'")
            for i, sc in enumerate(scenarios):
                if not isinstance(sc, dict) or not all(sc.get(k) for k in _ADJACENT_KEYS):
                    raise ArtifactError(f"{offtopic_path}: adjacent.scenarios[{i}] needs non-empty lists "
                                        f"{list(_ADJACENT_KEYS)}")
                _check_slots(offtopic_path, {f"adjacent.scenarios[{i}].{k}": sc[k] for k in _ADJACENT_KEYS},
                             off_known)
        specs_path = Path(self.specs_path) if self.specs_path else data_path("kb", "specs.jsonl")
        questions: dict[str, list[str]] = {}
        hints: dict[str, str] = {}
        for row in read_jsonl(specs_path):
            # the spec's identity question ("您是机主本人吗？") is an identity turn, not a diagnostic one
            questions[row["code"]] = [q for q in row.get("questions", []) if "机主" not in q]
            if row.get("reply_hint"):
                hints[row["code"]] = row["reply_hint"]
        self.common_ = common
        self.banks_ = banks
        self.codes_ = sorted(banks)
        self.questions_ = questions
        self.hints_ = hints
        self.offtopic_ = offtopic
        self.dialogue_ = dialogue

    # ------------------------------------------------------------------ public
    def run(self, codes: list[str] | None = None) -> dict[str, Any]:
        """Write the calls.

        Args:
            codes: leaf codes to write calls for; default every code with a phrase bank.

        Returns:
            ``{"calls": [record, …], "notes": {call_id: {…}}}``, the calls shuffled; ``notes`` records how each
            call was built (deferred code, phone given and read back, other numbers, vague, angry, …) for tests
            and analysis; it is not training input.
        """
        self.warm_up()
        if codes is None:
            codes = self.codes_
        missing = [c for c in codes if c not in self.banks_]
        if missing:
            raise InvalidInputError(f"codes {missing} have no phrase bank; available: {self.codes_}")
        codes = sorted(dict.fromkeys(codes))
        n_offtopic = (
            self.offtopic_calls
            if self.offtopic_calls is not None
            else round(0.1 * self.per_code * len(codes))
        )
        calls: list[dict[str, Any]] = []
        notes: dict[str, dict[str, Any]] = {}
        for code in codes:
            for i in range(self.per_code):
                record, note = self._labelled_call(code, i)
                calls.append(record)
                notes[record["call_id"]] = note
        for i in range(n_offtopic):
            record, note = self._offtopic_call(i)
            calls.append(record)
            notes[record["call_id"]] = note
        random.Random(f"{self.seed}:dialogue:shuffle").shuffle(calls)
        return {"calls": calls, "notes": notes}

    # ------------------------------------------------------------------ one call
    def _new_call(self, code: str | None, key: str, i: int) -> tuple[_Call, dict[str, Any]]:
        rng = random.Random(f"{self.seed}:dialogue:{key}:{i}")
        style = CallStyle.ASR if rng.random() < self.asr_share else CallStyle.WRITTEN
        call = _Call(code=code, rng=rng, style=style)
        started = _EPOCH + timedelta(
            days=rng.randrange(730), hours=rng.choices(range(24), weights=_HOUR_WEIGHTS)[0],
            minutes=rng.randrange(60), seconds=rng.randrange(60),
        )  # fmt: skip
        call.fixed.update(
            agent_id=str(rng.choice([rng.randint(1000, 9999), rng.randint(10000, 99999)])),
            day=str(started.day),
        )
        digest = hashlib.sha1(f"{self.seed}:{key}:{i}".encode()).hexdigest()[:12]
        record = {
            "call_id": f"gen-{digest}",
            "region": rng.choice(self.dialogue_["regions"]),
            "started_at": started.isoformat(timespec="seconds"),
            "style": style.value,
            "label": code,
            "turns": call.turns,
            "slots": call.slots,
        }
        return call, record

    def _labelled_call(self, code: str, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        call, record = self._new_call(code, code, i)
        rng = call.rng
        inquiry = call.inquiry
        symptoms = [c for c in self.dialogue_.get("presents_as", {}).get(code, []) if c in self.banks_]
        misleading = rng.choice(symptoms) if symptoms and not inquiry and rng.random() < _P_MISLEADING else None
        diagnosis = misleading is not None or rng.random() < _P_DIAGNOSIS
        vague = not inquiry and not misleading and diagnosis and rng.random() < _P_VAGUE_GIVEN_DIAGNOSIS
        escalation = not inquiry and rng.random() < _P_ESCALATION
        angry = not inquiry and (escalation or rng.random() < _P_ANGRY)
        smalltalk = rng.random() < _P_SMALLTALK
        identity = rng.random() < _P_IDENTITY
        unrelated = rng.random() < _P_UNRELATED
        deferred = rng.random() < _P_DEFERRED
        defer_at = rng.choices(*_DEFER_AT)[0] if deferred else None
        phone_mode = rng.choices(*_PHONE_MODES)[0]
        scam = code in self.dialogue_["scam_codes"] and rng.random() < _P_SCAM_NUMBER
        other_number = scam or rng.random() < _P_OTHER_NUMBER
        call.notes.update(
            label=code, diagnosis=diagnosis, vague=vague, misleading=misleading, angry=angry, escalation=escalation, smalltalk=smalltalk,
            identity=identity, unrelated=unrelated, deferred_code=None, defer_at=defer_at, phone_mode=phone_mode,
            phone=None, phone_wrong=None, other_numbers=[],
        )  # fmt: skip
        if phone_mode not in ("none", "this_number"):
            call.phone = _mobile(rng)
        call.details_left = list(self.banks_[code]["details"])
        rng.shuffle(call.details_left)  # each detail said at most once, wherever it comes up

        self._opening(call)
        greeted = rng.random() < _P_AFTER_PROMPT
        if greeted:
            self._say(call, "customer", TurnRole.OPENING, self._pick(call, "customer_greetings"))
            self._say(call, "agent", TurnRole.OPENING, self._pick(call, "agent_prompts"))
        first = True  # the caller's first words with content get an opener ("你好，我想问一下")
        if smalltalk and rng.random() < 0.7:
            self._smalltalk(call)
            smalltalk = False
        identity_early = identity and rng.random() < 0.5
        if identity_early:
            self._identity(call, with_phone=phone_mode not in ("none", "inline"))
        if unrelated:
            self._unrelated(call, first=first and not greeted)
            first = False
        if defer_at == "before":
            self._deferred(call, "deferral_before", first=first and not greeted)
            first = False
        if not vague and rng.random() < _P_BACKGROUND_FIRST:
            self._say(
                call,
                "customer",
                TurnRole.DETAIL,
                self._fill(self._common("backgrounds", call), call, capture=True),
            )
        self._complaint(
            call,
            first=first and not greeted,
            vague=vague,
            angry=angry,
            escalation=escalation,
            phone_inline=phone_mode == "inline",
            symptom_code=misleading,
        )
        if misleading:  # the caller's own words of the real problem follow the symptom
            n_real = len(call.details_left)
            self._details(call, vague=False, other_number=False, scam=False)
            if len(call.details_left) == n_real and call.details_left:
                self._say(call, "customer", TurnRole.DETAIL, self._fill(call.details_left.pop(), call, capture=True))
        self._details(call, vague=vague, other_number=other_number, scam=scam)
        if defer_at == "after":
            self._deferred(call, "deferral_after", first=False)
        if identity and not identity_early:
            self._identity(call, with_phone=phone_mode not in ("none", "inline"))
            if rng.random() < 0.25 and not vague:
                short = self._fill(rng.choice(self.banks_[code]["short"]), call, capture=True)
                self._say(call, "customer", TurnRole.COMPLAINT, self._pick(call, "restate_leads") + short)
        elif not identity and phone_mode not in ("none", "inline"):
            self._phone_exchange(call, ask=True)
        self._questions(call, vague=vague, angry=angry)
        found = self._diagnosis(call) if diagnosis else None
        if rng.random() < _P_RESOLUTION:
            self._resolution(call, diagnosis=found)
        if defer_at == "end":
            self._deferred(call, "deferral_end", first=False)
        if smalltalk:
            self._smalltalk(call)
        if rng.random() < _P_CLOSING:
            self._closing(call)
        return self._finish(call, record)

    def _offtopic_call(self, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        call, record = self._new_call(None, "offtopic", i)
        rng, bank = call.rng, self.offtopic_
        topic = rng.choice(sorted(bank["topics"]))
        call.notes.update(
            label=None, topic=topic, deferred_code=None, phone=None, phone_wrong=None, other_numbers=[]
        )
        self._opening(call)
        if bank.get("adjacent") and rng.random() < _P_ADJACENT:
            return self._adjacent_call(call, record)
        greeted = rng.random() < 0.25
        if greeted:
            self._say(call, "customer", TurnRole.OPENING, self._pick(call, "customer_greetings"))
            self._say(call, "agent", TurnRole.OPENING, self._pick(call, "agent_prompts"))
        if rng.random() < 0.1:
            self._smalltalk(call)
        parts = []
        if not greeted and rng.random() < 0.35:
            parts.append(self._calm_opener(call))
        sentences = rng.sample(bank["topics"][topic], k=min(2, len(bank["topics"][topic])))
        parts.append(sentences[0])
        if rng.random() < 0.35 and bank.get("extra", {}).get(topic):
            parts.append(rng.choice(bank["extra"][topic]))
        self._say(call, "customer", TurnRole.OFFTOPIC, self._fill_offtopic(_join(parts, rng), call))
        if rng.random() < 0.2:
            self._say(
                call,
                "customer",
                TurnRole.OFFTOPIC,
                self._fill_offtopic(rng.choice(["还有，", "另外", "而且", ""]) + sentences[-1], call),
            )
        self._say(call, "agent", TurnRole.OFFTOPIC, rng.choice(bank["agent_replies"][topic]))
        if rng.random() < 0.5:
            self._say(call, "customer", TurnRole.OFFTOPIC, rng.choice(bank["followups_customer"]))
            if rng.random() < 0.6:
                self._say(call, "agent", TurnRole.OFFTOPIC, rng.choice(bank["followups_agent"]))
        if rng.random() < 0.9:
            self._closing(call)
        return self._finish(call, record)

    def _adjacent_call(self, call: _Call, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """An off-topic call that sounds like telecom at first: the agent's check and verdict decide it."""
        rng, adjacent = call.rng, self.offtopic_["adjacent"]
        k = rng.randrange(len(adjacent["scenarios"]))
        scenario = adjacent["scenarios"][k]
        call.notes["topic"] = f"adjacent.{k}"
        chosen = {name: rng.choice(values) for name, values in sorted(self.offtopic_.get("slots", {}).items())}
        pick = {key: self._fill_offtopic(rng.choice(scenario[key]), call, chosen=chosen) for key in _ADJACENT_KEYS}
        opener = self._calm_opener(call) + "，" if rng.random() < 0.3 else ""
        # ambiguous on its own (是不是你们扣的): its category must not count, and it is no scope negative
        self._say(call, "customer", TurnRole.UNRELATED, opener + pick["customer"])
        self._say(call, "agent", TurnRole.AGENT_QUESTION, pick["check"], question=True)
        self._say(call, "customer", TurnRole.OFFTOPIC, pick["answer"])
        self._say(call, "agent", TurnRole.OFFTOPIC, pick["verdict"])
        if rng.random() < 0.6:
            self._say(call, "customer", TurnRole.OFFTOPIC, rng.choice(adjacent["followups"]))
        if rng.random() < 0.9:
            self._closing(call)
        return self._finish(call, record)

    def _finish(self, call: _Call, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        if call.style is CallStyle.ASR:
            for turn in call.turns:
                turn["text"] = self._to_asr(turn["text"], call.rng, customer=turn["speaker"] == "customer")
        if "phone" in call.slots:
            call.notes["phone"] = call.slots["phone"]
        return record, call.notes

    # ------------------------------------------------------------------ blocks
    def _opening(self, call: _Call) -> None:
        key = "openings_named" if call.rng.random() < 0.55 else "openings_bare"
        self._say(call, "agent", TurnRole.OPENING, self._pick(call, key))

    def _smalltalk(self, call: _Call) -> None:
        rng = call.rng
        if rng.random() < 0.6:
            first, second = rng.choice(self.dialogue_["smalltalk_customer_first"])
            speakers = ("customer", "agent")
        else:
            first, second = rng.choice(self.dialogue_["smalltalk_agent_first"])
            speakers = ("agent", "customer")
        self._say(call, speakers[0], TurnRole.SMALLTALK, self._fill(first, call))
        self._say(call, speakers[1], TurnRole.SMALLTALK, self._fill(second, call))

    def _identity(self, call: _Call, *, with_phone: bool) -> None:
        rng = call.rng
        role = TurnRole.IDENTITY
        call.fixed["id4"] = "".join(str(rng.randrange(10)) for _ in range(3)) + (
            "X" if rng.random() < 0.1 else str(rng.randrange(10))
        )
        if with_phone and rng.random() < 0.5:
            self._phone_exchange(call, ask=True)
            with_phone = False
        if rng.random() < 0.8:
            self._say(call, "agent", role, self._pick(call, "identity_owner_ask"), question=True)
            owner = rng.random() < 0.85
            self._say(
                call,
                "customer",
                role,
                self._pick(call, "identity_owner_yes" if owner else "identity_owner_no"),
            )
        checks = [c for c, p in (("name", 0.6), ("id4", 0.5), ("pwd", 0.25)) if rng.random() < p] or [
            rng.choice(["name", "id4"])
        ]
        if "name" in checks and "id4" in checks and rng.random() < 0.4:
            self._say(call, "agent", role, self._pick(call, "identity_name_id_ask"), question=True)
            self._say(call, "customer", role, self._pick(call, "identity_name_id_give"))
            checks = [c for c in checks if c not in ("name", "id4")]
        for check in checks:
            ask, give = {"name": ("identity_name_ask", "identity_name_give"), "id4": ("identity_id_ask", "identity_id_give"),
                         "pwd": ("identity_pwd_ask", "identity_pwd_give")}[check]  # fmt: skip
            self._say(call, "agent", role, self._pick(call, ask), question=check != "pwd")
            self._say(call, "customer", role, self._pick(call, give))
        self._say(call, "agent", role, self._pick(call, "identity_ok"))
        if with_phone:
            self._phone_exchange(call, ask=True)

    def _phone_exchange(self, call: _Call, *, ask: bool) -> None:
        """The caller's number, in one of the ways callers give it; ``slots.phone`` is the number after any correction."""
        rng, mode, role = call.rng, call.notes["phone_mode"], TurnRole.IDENTITY
        if ask:
            self._say(call, "agent", role, self._pick(call, "phone_ask"), question=True)
        if mode == "this_number":
            self._say(call, "customer", role, self._pick(call, "phone_this_number"))
            return
        phone = call.phone
        assert phone is not None
        if mode == "split":
            cut = rng.choice([3, 7, 7])
            self._say(
                call,
                "customer",
                role,
                self._pick_with(call, "phone_split_first", part1=self._say_number(phone[:cut], call)),
            )
            self._say(call, "agent", role, self._pick(call, "phone_split_prompt"))
            self._say(
                call,
                "customer",
                role,
                self._pick_with(call, "phone_split_second", part2=self._say_number(phone[cut:], call)),
            )
            if rng.random() < 0.4:
                self._say(call, "agent", role, self._readback(call, phone), question=True)
                self._say(call, "customer", role, self._pick(call, "phone_confirm"))
            call.slots["phone"] = phone
            return
        if mode in ("correct_agent", "correct_self"):
            wrong, position = _change_digit(phone, rng)
            call.notes["phone_wrong"] = wrong
            said = phone if mode == "correct_agent" else wrong  # correct_self: the caller misspeaks first
            self._say(call, "customer", role, self._give(call, said))
            self._say(call, "agent", role, self._readback(call, wrong), question=True)
            if position in (9, 10) and rng.random() < 0.5:  # "最后一位是8不是3" / "倒数第二位是…"
                key = "phone_correct_digit" if position == 10 else "phone_correct_digit_mid"
                text = self._pick_with(call, key, new=phone[position], old=wrong[position])
            else:
                text = self._pick_with(call, "phone_correct_full", phone=self._say_number(phone, call))
            if mode == "correct_self":
                text = self._pick(call, "phone_misspoke") + text.removeprefix("不对，").removeprefix("不是，")
            self._say(call, "customer", role, text)
            if rng.random() < 0.7:
                self._say(
                    call,
                    "agent",
                    role,
                    self._pick_with(
                        call, "phone_correct_ack", phone=self._say_number(phone, call, agent=True)
                    ),
                )
                if rng.random() < 0.6:
                    self._say(call, "customer", role, self._pick(call, "phone_correct_reconfirm"))
            else:
                self._say(call, "agent", role, self._pick(call, "phone_correct_ack_bare"))
            call.slots["phone"] = phone
            return
        self._say(call, "customer", role, self._give(call, phone))
        if mode == "readback" or rng.random() < 0.15:
            self._say(call, "agent", role, self._readback(call, phone), question=True)
            self._say(call, "customer", role, self._pick(call, "phone_confirm"))
        call.slots["phone"] = phone

    def _give(self, call: _Call, number: str) -> str:
        return self._pick_with(call, "phone_give", phone=self._say_number(number, call))

    def _readback(self, call: _Call, number: str) -> str:
        return self._pick_with(call, "phone_readback", phone=self._say_number(number, call, agent=True))

    def _say_number(self, digits: str, call: _Call, *, agent: bool = False) -> str:
        """A digit string as a caller says it (plain, 3-4-4 with spaces or dashes, 幺三八…, +86) or an agent reads it."""
        rng = call.rng
        if agent:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}" if rng.random() < 0.3 else digits
        if len(digits) != 11:
            return self._spoken(digits, call) if rng.random() < 0.3 else digits
        form = rng.choices(["plain", "spaces", "dashes", "spoken", "plus86"], weights=(40, 18, 10, 20, 12))[0]
        if form == "spaces":
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        if form == "dashes":
            return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        if form == "spoken":
            groups = [digits[:3], digits[3:7], digits[7:]]
            sep = rng.choice(["", " ", "，"])
            return sep.join(self._spoken(g, call) for g in groups)
        if form == "plus86":
            return rng.choice(["+86 ", "+86", "+86-"]) + digits
        return digits

    def _spoken(self, digits: str, call: _Call) -> str:
        table = self.common_["digits"]
        one = "幺" if call.rng.random() < 0.6 else "一"
        return "".join(one if d == "1" else call.rng.choice(table[d]) for d in digits)

    def _unrelated(self, call: _Call, *, first: bool) -> None:
        rng = call.rng
        pairs = [p for p in self.dialogue_["unrelated"] if p.get("near") != call.code]
        pair = rng.choice(pairs)
        q = pair["q"]
        if first and rng.random() < 0.4:
            q = self._calm_opener(call) + "，" + q
        self._say(call, "customer", TurnRole.UNRELATED, q, question=True)
        self._say(call, "agent", TurnRole.UNRELATED, self._fill(pair["a"], call))
        if rng.random() < 0.5:
            self._say(call, "customer", TurnRole.UNRELATED, self._pick(call, "unrelated_acks"))

    def _deferred(self, call: _Call, key: str, *, first: bool) -> None:
        rng = call.rng
        service = call.service
        others = [c for c in self.codes_ if c.split(".", 1)[0] != service] or [
            c for c in self.codes_ if c != call.code
        ]
        other = rng.choice(others)
        call.notes["deferred_code"] = other
        template = rng.choice(self.banks_[other]["core" if rng.random() < 0.8 else "short"])
        other_call = _Call(code=other, rng=rng, style=call.style)  # its own slot values, none captured
        issue = self._fill(template, other_call).strip().rstrip(_END_PUNCT)
        text = self._pick_with(call, key, other=issue)
        if first and rng.random() < 0.4:
            text = self._calm_opener(call) + "，" + text
        self._say(call, "customer", TurnRole.DEFERRED, text)
        if rng.random() < 0.7:
            self._say(call, "agent", TurnRole.DEFERRED, self._pick(call, "deferral_agent_ack"))

    def _complaint(
        self, call: _Call, *, first: bool, vague: bool, angry: bool, escalation: bool, phone_inline: bool,
        symptom_code: str | None = None,
    ) -> None:
        """The caller's complaint turn; with ``symptom_code``, said in that code's words (its ``core`` and
        ``short`` utterances, not its details or asks), the real code's details following elsewhere."""
        rng = call.rng
        bank = self.banks_[symptom_code or call.code]  # type: ignore[index]
        parts: list[str] = []
        if first and rng.random() < 0.45:
            parts.append(
                self._calm_opener(call)
                if call.inquiry or rng.random() < 0.7
                else self._common("openers", call)
            )
        if angry and rng.random() < 0.6:
            parts.append(self._common("angry", call))
        if phone_inline and call.phone:
            parts.append(self._pick_with(call, "phone_inline", phone=self._say_number(call.phone, call)))
            call.slots["phone"] = call.phone
        if vague:
            lines = (
                self.dialogue_["vague_by_service"].get(call.service)
                or self.dialogue_["vague_by_service"]["generic"]
            )
            if rng.random() < 0.3:
                lines = self.dialogue_["vague_by_service"]["generic"]
            parts.append(rng.choice(lines))
        else:
            key = "short" if rng.random() < 0.15 else "core"
            parts.append(self._fill(rng.choice(bank[key]), call, capture=True))
            if not symptom_code and call.details_left and rng.random() < 0.3:
                parts.append(self._fill(call.details_left.pop(), call, capture=True))
            if not symptom_code and rng.random() < 0.35:
                parts.append(self._fill(rng.choice(bank["asks"]), call, capture=True))
        if angry and rng.random() < 0.4:
            parts.append(self._common("angry", call))
        if escalation:
            parts.append(self._pick(call, "escalation"))
        question = call.inquiry and rng.random() < 0.7
        self._say(call, "customer", TurnRole.COMPLAINT, _join(parts, rng), question=question, bang=angry)

    def _details(self, call: _Call, *, vague: bool, other_number: bool, scam: bool) -> None:
        rng = call.rng
        details = call.details_left
        n = rng.choices([0, 1, 2], weights=(80, 20, 0) if vague else (40, 40, 20))[0]
        if other_number:
            other = _mobile(rng)
            while other in (call.phone, call.notes.get("phone_wrong")):
                other = _mobile(rng)
            call.notes["other_numbers"].append(other)
            key = "scam_number" if scam else "third_party_number"
            n_other = self._say_number(other, call)
            n = max(n, 1)
        else:
            key = n_other = ""
        for k in range(n):
            parts = [self._fill(details.pop(), call, capture=True)] if details else []
            if details and rng.random() < 0.3:
                parts.append(self._fill(details.pop(), call, capture=True))
            if k == 0 and key:
                parts.insert(rng.randrange(len(parts) + 1), self._pick_with(call, key, other_phone=n_other))
            if parts:
                self._say(call, "customer", TurnRole.DETAIL, _join(parts, rng))

    def _questions(self, call: _Call, *, vague: bool, angry: bool) -> None:
        rng = call.rng
        n = rng.choices(*_QUESTION_COUNTS)[0]
        pool = list(self.questions_.get(call.code or "", []))
        rng.shuffle(pool)
        details = call.details_left
        for k in range(n):
            if pool and rng.random() < 0.85:
                q = _paraphrase(pool.pop(), rng)
            else:
                q = self._pick(call, "agent_questions_generic")
            if k == 0 and rng.random() < 0.5:
                if angry and rng.random() < 0.6:
                    lead = self._pick(call, "agent_calm")
                else:  # no apology to a caller who only asks
                    acks = [
                        a
                        for a in self.dialogue_["agent_acks"]
                        if not (call.inquiry and re.search("抱歉|别着急|别急", a))
                    ]
                    lead = rng.choice(acks)
                q = lead.rstrip(_END_PUNCT) + "，" + q
            self._say(call, "agent", TurnRole.AGENT_QUESTION, q, question=True)
            r = rng.random()
            if vague and r < 0.7 or not details:
                answer = self._pick(call, "answers_generic", capture=True)
            elif r < 0.6:
                answer = self._fill(details.pop(), call, capture=True)
            else:
                answer = _join(
                    [
                        self._pick(call, "answers_generic", capture=True),
                        self._fill(details.pop(), call, capture=True),
                    ],
                    rng,
                )
            self._say(call, "customer", TurnRole.DETAIL, answer)

    def _diagnosis(self, call: _Call) -> int:
        """The agent's finding; returns its index in the code's ``agent_diagnosis`` bank."""
        rng = call.rng
        lead = self._pick(call, "diagnosis_leads")
        hint = self.hints_.get(call.code or "")
        if hint and rng.random() < 0.25:
            lead = hint.rstrip(_END_PUNCT) + "。" + rng.choice(["", "好的，", "查到了，", "嗯，"])
        bank = self.dialogue_["dialogue_by_code"][call.code]["agent_diagnosis"]
        index = rng.randrange(len(bank))
        call.notes["diagnosis_index"] = index
        self._say(call, "agent", TurnRole.AGENT_DIAGNOSIS, lead + self._fill(bank[index], call))
        if rng.random() < 0.4:
            self._say(
                call, "customer", TurnRole.RESOLUTION, self._pick(call, "resolution_requests"), question=True
            )
        return index

    def _resolution(self, call: _Call, *, diagnosis: int | None) -> None:
        """Fix talk and the caller's answer; after a diagnosis, mostly the fix that goes with it."""
        rng = call.rng
        entry = self.dialogue_["dialogue_by_code"][call.code]
        r = rng.random()
        if diagnosis is not None and r < 0.8:
            fix = self._fill(entry["resolution"][diagnosis], call)
        elif r < (0.9 if diagnosis is not None else 0.35):
            fix = self._pick(call, "resolution_agent_generic")
        else:
            fix = self._fill(rng.choice(entry["resolution"]), call)
        self._say(call, "agent", TurnRole.RESOLUTION, fix)
        if rng.random() < 0.3:
            self._say(
                call, "agent", TurnRole.RESOLUTION, self._pick(call, "resolution_check_agent"), question=True
            )
        if rng.random() < 0.75:
            confirm = (
                entry["resolution_customer"]
                if rng.random() < 0.75
                else self.dialogue_["resolution_customer_generic"]
            )
            self._say(call, "customer", TurnRole.RESOLUTION, self._fill(rng.choice(confirm), call))
        else:
            self._say(call, "customer", TurnRole.RESOLUTION, self._pick(call, "resolution_customer_generic"))
        if rng.random() < 0.15:
            self._say(call, "agent", TurnRole.RESOLUTION, self._pick(call, "resolution_agent_wrapup"))

    def _closing(self, call: _Call) -> None:
        rng, role = call.rng, TurnRole.CLOSING
        if rng.random() < 0.8:
            self._say(call, "agent", role, self._pick(call, "closing_agent_ask"), question=True)
            self._say(call, "customer", role, self._pick(call, "closing_customer_no"))
        if rng.random() < 0.9:
            self._say(call, "agent", role, self._pick(call, "closing_agent_bye"))
            if rng.random() < 0.5:
                self._say(call, "customer", role, self._pick(call, "closing_customer_bye"))
        elif not call.turns or call.turns[-1]["role"] != role.value:
            self._say(call, "customer", role, self._pick(call, "closing_customer_bye"))

    # ------------------------------------------------------------------ text
    def _say(
        self,
        call: _Call,
        speaker: str,
        role: TurnRole,
        text: str,
        *,
        question: bool = False,
        bang: bool = False,
    ) -> None:
        text = text.strip().rstrip(_END_PUNCT)
        if not text:
            return
        rng = call.rng
        last = re.split("[，。！？,!?]", text)[-1]
        if (
            question
            or text.endswith(_QUESTION_END)
            or last.startswith("请问")
            or _A_NOT_A.search(last)
            or (text.endswith("呢") and _QUESTION_WORDS.search(last))
        ):
            end = rng.choices(["？", "?", ""], weights=(8, 1, 1))[0]
        elif speaker == "agent":  # agents do not shout
            end = rng.choices(["。", ""], weights=(8, 2))[0]
        elif bang:
            end = rng.choice(["！", "！！", "。", "!"])
        else:
            end = rng.choices(["。", "！", ""], weights=(8, 1, 2))[0]
        call.turns.append({"speaker": speaker, "text": text + end, "role": role.value})

    def _pick(self, call: _Call, key: str, *, capture: bool = False) -> str:
        return self._fill(call.rng.choice(self.dialogue_[key]), call, capture=capture)

    def _pick_with(self, call: _Call, key: str, **values: str) -> str:
        """A line of bank ``key`` with some placeholders given here (a number as said, the deferred issue)."""
        return self._fill(call.rng.choice(self.dialogue_[key]), call, values=values)

    def _common(self, key: str, call: _Call) -> str:
        return call.rng.choice(self.common_[key])

    def _calm_opener(self, call: _Call) -> str:
        items = [
            s for s in self.common_["openers"] if not any(t in s for t in (*_COMPLAINT_TONE, "投诉", "反映"))
        ]
        return call.rng.choice(items).rstrip(_END_PUNCT)

    def _fill(
        self, template: str, call: _Call, *, capture: bool = False, values: dict[str, str] | None = None
    ) -> str:
        """Fill ``{slot}`` placeholders; one value per slot within a call; ``capture`` records the caller's slots."""
        values = values or {}
        overrides = self.common_.get("slots_by_service", {}).get(call.service, {})
        extra = self.dialogue_.get("slots", {})

        def pick(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in values:
                return values[name]
            if name in call.fixed:
                return call.fixed[name]
            if name not in call.memory:
                choices = overrides.get(name) or self.common_["slots"].get(name) or extra.get(name)
                call.memory[name] = call.rng.choice(choices)
            value = call.memory[name]
            if capture and name in _SLOT_KEYS:
                call.slots.setdefault(_SLOT_KEYS[name], value)
            return value

        return _SLOT_RE.sub(pick, template)

    def _fill_offtopic(self, template: str, call: _Call, *, chosen: dict[str, str] | None = None) -> str:
        """Fill the off-topic bank's ``{slot}`` placeholders: from ``chosen`` (one value per slot for the call)
        when given, else a fresh random value each."""
        if chosen is not None:
            return _SLOT_RE.sub(lambda m: chosen[m.group(1)], template)
        slots = self.offtopic_.get("slots", {})
        return _SLOT_RE.sub(lambda m: call.rng.choice(slots[m.group(1)]), template)

    def _to_asr(self, text: str, rng: random.Random, *, customer: bool) -> str:
        """A turn as an ASR engine writes it: spoken digits, a homophone slip, fillers at pauses, no punctuation."""
        text = re.sub(r"\+86[- ]?", lambda m: rng.choice(["加八六", "八六", ""]), text)
        text = re.sub(r"(\d)\.(\d)", r"\1点\2", text)
        text = _spoken_digits(text, self.common_["digits"], rng)
        homophones = self.common_["homophones"]
        keys = [k for k in homophones if k in text]
        if keys and rng.random() < (0.5 if customer else 0.25):
            k = rng.choice(keys)
            text = text.replace(k, rng.choice(homophones[k]), 1)
        pieces = [p for p in _ASR_SPLIT.split(text) if p]
        fillers = self.common_["fillers"]
        p_filler = 0.3 if customer else 0.1
        out: list[str] = []
        for i, p in enumerate(pieces):
            if i and rng.random() < p_filler:
                out.append(rng.choice(fillers))
            out.append(p)
        if customer and rng.random() < 0.25:
            out.insert(0, rng.choice(fillers))
        text = rng.choice(["", " ", ""]).join(out)
        if customer and rng.random() < 0.15 and len(text) > 4:  # stutter: a short chunk said twice
            i = rng.randrange(0, len(text) - 2)
            n = rng.choice([1, 2])
            text = text[: i + n] + text[i : i + n] + text[i + n :]
        text = re.sub(r"\s+", " ", "".join(ch for ch in text if ch not in PUNCTUATION)).strip()
        return text or rng.choice(fillers)


# ---------------------------------------------------------------------- helpers
def role_records(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``{"text", "speaker", "role", "position"}`` per turn, ``position`` = turn index / (n_turns - 1).

    Example:
        >>> role_records([{"turns": [{"speaker": "agent", "text": "您好", "role": "opening"},
        ...                          {"speaker": "customer", "text": "网断了", "role": "complaint"}]}])[1]["position"]
        1.0
    """
    out: list[dict[str, Any]] = []
    for call in calls:
        turns = call["turns"]
        last = max(len(turns) - 1, 1)
        for i, turn in enumerate(turns):
            out.append(
                {"text": turn["text"], "speaker": turn["speaker"], "role": turn["role"], "position": i / last}
            )
    return out


def _join(parts: list[str], rng: random.Random) -> str:
    parts = [p.strip().rstrip(_END_PUNCT) for p in parts if p and p.strip()]
    parts = [p for p in parts if p]
    if not parts:
        return ""
    out = parts[0]
    for p in parts[1:]:
        out += rng.choices(["，", "。", " ", ","], weights=(12, 4, 1, 1))[0] + p
    return out


def _paraphrase(question: str, rng: random.Random) -> str:
    """A spec question as an agent might put it: one of its sub-questions, another lead-in, 是否 → 是不是."""
    subs = [s for s in re.split(r"(?<=[？?])", question) if s.strip()]
    q = rng.choice(subs) if len(subs) > 1 and rng.random() < 0.6 else question
    q = q.strip().rstrip("？?")
    if rng.random() < 0.6:
        q = re.sub(r"^请问", "", q)
    if rng.random() < 0.5:
        q = q.replace("是否", "是不是")
    if rng.random() < 0.15:
        q = q.replace("您", "你")
    lead = rng.choices(
        ["", "请问", "我想问一下，", "那", "麻烦问下，", "我确认一下，", "嗯，", "好的，那"],
        weights=(8, 3, 2, 2, 2, 1, 1, 1),
    )[0]
    if q.startswith("请问") and "请问" in lead:
        lead = ""
    return lead + q


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))


def _change_digit(number: str, rng: random.Random) -> tuple[str, int]:
    """The number with one digit misheard (the last, the second to last, or one in the middle)."""
    position = rng.choice([10, 10, 9, rng.randrange(3, 9)])
    digit = rng.choice([d for d in "0123456789" if d != number[position]])
    return number[:position] + digit + number[position + 1 :], position


def _check_slots(path: Path, banks: dict[str, Any], known: set[str]) -> None:
    def walk(value: Any, where: str) -> None:
        if isinstance(value, str):
            unknown = set(_SLOT_RE.findall(value)) - known
            if unknown:
                raise ArtifactError(
                    f"{path}: {where} phrase {value!r} uses unknown slot(s) {sorted(unknown)}; "
                    f"valid slots are {sorted(known)}"
                )
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else k)
        elif isinstance(value, list):
            for v in value:
                walk(v, where)

    walk(banks, "")
