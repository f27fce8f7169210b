"""Synthetic labelled corpus of caller utterances, built from hand-written phrase banks.

The default classifier is trained only on this corpus, so the generator aims at variety of wording rather
than volume: every record mixes a caller's statement of one problem (``core``) with optional openers,
details, requests and noise in one of several *styles* (plain, angry, long, short, ASR transcript,
two issues in one call, agent work-order summary).

Data lives in ``data/generator/``:

* ``common.json`` — shared banks (openers, closers, fillers, angry markers, backgrounds, connectors,
  agent tails), slot fillers (``slots``, with per-service overrides in ``slots_by_service``), an ASR
  homophone map (``homophones``), a digit → spoken map (``digits``) and ``shared_symptoms``: symptoms
  that several leaves share (a slow page on the phone or on the home broadband), each said with a leaf's
  own context words, used for a share of those leaves' core phrases so that the context decides.
* ``phrases/<code>.json`` — per leaf code: ``core``, ``details``, ``asks``, ``short``, ``agent_summary``.

Example:
    >>> gen = CorpusGenerator(seed=13, per_code=50)
    >>> gen.warm_up()
    >>> out = gen.run(codes=["data.slow"])
    >>> out["records"][0].keys()
    dict_keys(['text', 'label', 'style', 'labels'])
"""

from __future__ import annotations

import json
import logging
import random
import re
from enum import Enum
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX, default_taxonomy

__all__ = ["CorpusGenerator", "Style", "generate", "PUNCTUATION"]

logger = logging.getLogger(__name__)


class Style(str, Enum):
    PLAIN = "plain"
    ANGRY = "angry"
    LONG = "long"
    SHORT = "short"
    ASR = "asr"
    TWO_ISSUE = "two_issue"
    AGENT = "agent"


# Share of each style in a code's records; two_issue stays under the 8 % ceiling even after dedupe.
_STYLE_SHARES: dict[Style, float] = {
    Style.PLAIN: 0.25,
    Style.ANGRY: 0.14,
    Style.LONG: 0.16,
    Style.SHORT: 0.09,
    Style.ASR: 0.16,
    Style.TWO_ISSUE: 0.06,
    Style.AGENT: 0.08,
}
# Styles used to top up a code whose quota in some style could not be met with unique texts.
_TOP_UP = (Style.PLAIN, Style.LONG, Style.ASR)

_PHRASE_KEYS = ("core", "details", "asks", "short", "agent_summary")
_COMMON_LIST_KEYS = ("openers", "closers", "fillers", "angry", "backgrounds", "connectors", "agent_tails")
_SLOT_RE = re.compile(r"\{(\w+)\}")
_DIGITS_RE = re.compile(r"\d+")
# Everything an ASR transcript must not contain (it comes without punctuation).
PUNCTUATION = set("，。！？、；：,.!?;:“”\"'‘’（）()《》<>【】[]…—-~～·*/%")
_END_PUNCT = "。！？!?.，,、；;…~～ "
# Opening/closing phrases that would give an inquiry a complaint tone.
_COMPLAINT_TONE = ("投诉", "反映", "赶紧", "快点", "说法", "别又", "今天能不能", "你给我记")
_CN_NUM = "零一二三四五六七八九"


class CorpusGenerator:
    """Builds a labelled corpus ``{"text", "label", "style", "labels"}`` from the phrase banks.

    Args:
        seed: seed of the private ``random.Random`` generators; the same seed gives the same corpus.
        per_code: records attempted per leaf code (texts are deduplicated, so a few may be missing).
        phrases_dir: folder of ``<code>.json`` phrase banks; default ``data/generator/phrases``.
        common_path: shared banks; default ``data/generator/common.json``.

    Example:
        >>> gen = CorpusGenerator(seed=1, per_code=20)
        >>> gen.warm_up()
        >>> len(gen.run(codes=["sms.spam"])["records"]) <= 20
        True
    """

    def __init__(
        self,
        *,
        seed: int = 13,
        per_code: int = 400,
        phrases_dir: str | Path | None = None,
        common_path: str | Path | None = None,
    ) -> None:
        self.seed = seed
        self.per_code = per_code
        self.phrases_dir = phrases_dir
        self.common_path = common_path

    # ------------------------------------------------------------------ loading
    def warm_up(self) -> None:
        """Load and validate the banks; idempotent."""
        if getattr(self, "banks_", None) is not None:
            return
        if self.per_code <= 0:
            raise InvalidInputError(f"per_code must be > 0, got {self.per_code}")
        phrases_dir = Path(self.phrases_dir) if self.phrases_dir else data_path("generator", "phrases")
        common_path = Path(self.common_path) if self.common_path else data_path("generator", "common.json")
        common = _load_json(common_path)
        for key in (*_COMMON_LIST_KEYS, "slots", "homophones", "digits"):
            if not common.get(key):
                raise ArtifactError(f"{common_path}: key {key!r} is missing or empty; see training/generate.py for the schema")
        slot_names = set(common["slots"])
        if not phrases_dir.is_dir():
            raise ArtifactError(f"phrase folder not found: {phrases_dir}; pass phrases_dir= or restore data/generator/phrases")
        taxonomy = default_taxonomy()
        banks: dict[str, dict[str, list[str]]] = {}
        for path in sorted(phrases_dir.glob("*.json")):
            bank = _load_json(path)
            code = bank.get("code")
            if code != path.stem:
                raise ArtifactError(f"{path}: field 'code' is {code!r} but the file name says {path.stem!r}")
            for key in _PHRASE_KEYS:
                items = bank.get(key)
                if not _strings(items):
                    raise ArtifactError(f"{path}: {key!r} must be a non-empty list of non-empty strings")
                for text in items:
                    unknown = set(_SLOT_RE.findall(text)) - slot_names
                    if unknown:
                        raise ArtifactError(
                            f"{path}: {key} phrase {text!r} uses unknown slot(s) {sorted(unknown)}; "
                            f"valid slots are {sorted(slot_names)}"
                        )
            if code not in taxonomy:
                logger.warning("ignoring phrase bank %s: %r is not a taxonomy code", path, code)
                continue
            banks[code] = {key: list(dict.fromkeys(bank[key])) for key in _PHRASE_KEYS}
        if not banks:
            raise ArtifactError(f"no phrase banks for taxonomy codes in {phrases_dir}")
        self.common_ = common
        self.banks_ = banks
        self.shared_, self.shared_share_ = _shared_symptoms(common.get("shared_symptoms"), banks, taxonomy,
                                                            common_path)
        self.codes_ = sorted(banks)

    # ------------------------------------------------------------------ public
    def run(self, codes: list[str] | None = None) -> dict[str, Any]:
        """Generate the corpus.

        Args:
            codes: leaf codes to generate; default every taxonomy code that has a phrase bank.

        Returns:
            ``{"records": [{"text", "label", "style", "labels"}], "shortfalls": {code: n_unique}}`` where
            ``shortfalls`` lists codes that ended with fewer than ``per_code`` unique texts.
        """
        self.warm_up()
        if codes is None:
            codes = self.codes_
        missing = [c for c in codes if c not in self.banks_]
        if missing:
            raise InvalidInputError(f"codes {missing} have no phrase bank; available: {self.codes_}")
        records: list[dict[str, Any]] = []
        shortfalls: dict[str, int] = {}
        seen: set[str] = set()
        for code in sorted(dict.fromkeys(codes)):
            recs = self._generate_code(code, seen)
            if len(recs) < self.per_code:
                shortfalls[code] = len(recs)
                logger.warning("code %s: only %d unique texts of %d requested", code, len(recs), self.per_code)
            records.extend(recs)
        random.Random(f"{self.seed}:shuffle").shuffle(records)
        return {"records": records, "shortfalls": shortfalls}

    # ------------------------------------------------------------------ per code
    def _generate_code(self, code: str, seen: set[str]) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.seed}:{code}")
        inquiry = code.startswith(NON_COMPLAINT_PREFIX)
        service = code.split(".", 1)[0]
        others = [c for c in self.codes_ if c.split(".", 1)[0] != service]
        quotas = {s: round(share * self.per_code) for s, share in _STYLE_SHARES.items()}
        if inquiry:
            # An inquiry stays a calm question: no angry style, no second (complaint) issue.
            quotas[Style.PLAIN] += quotas.pop(Style.ANGRY) + quotas.pop(Style.TWO_ISSUE)
        if not others:
            quotas[Style.PLAIN] += quotas.pop(Style.TWO_ISSUE, 0)
        quotas[Style.PLAIN] += self.per_code - sum(quotas.values())
        out: list[dict[str, Any]] = []

        def attempt(style: Style, want: int, tries: int) -> None:
            got = 0
            for _ in range(tries):
                if got >= want:
                    return
                text, labels = self._compose(style, code, rng, inquiry, others)
                text = text.strip()
                if not text or text in seen:
                    continue
                seen.add(text)
                out.append({"text": text, "label": code, "style": style.value, "labels": labels})
                got += 1

        for style, want in quotas.items():
            attempt(style, want, want * 20)
        for style in _TOP_UP:
            if len(out) >= self.per_code:
                break
            attempt(style, self.per_code - len(out), (self.per_code - len(out)) * 20)
        return out

    def _compose(
        self, style: Style, code: str, rng: random.Random, inquiry: bool, others: list[str]
    ) -> tuple[str, list[str]]:
        if style is Style.PLAIN:
            return self._plain(code, rng, inquiry), [code]
        if style is Style.ANGRY:
            return self._angry(code, rng), [code]
        if style is Style.LONG:
            return self._long(code, rng, inquiry), [code]
        if style is Style.SHORT:
            return self._short(code, rng, inquiry), [code]
        if style is Style.ASR:
            return self._asr(code, rng, inquiry), [code]
        if style is Style.TWO_ISSUE:
            return self._two_issue(code, rng, others)
        return self._agent(code, rng), [code]

    # ------------------------------------------------------------------ pieces
    def _fill(self, template: str, code: str, rng: random.Random) -> str:
        service = code.split(".", 1)[0]
        overrides = self.common_.get("slots_by_service", {}).get(service, {})

        def pick(m: re.Match[str]) -> str:
            name = m.group(1)
            return rng.choice(overrides.get(name) or self.common_["slots"][name])

        return _SLOT_RE.sub(pick, template)

    def _pick(self, code: str, key: str, rng: random.Random) -> str:
        if key == "core" and code in self.shared_ and rng.random() < self.shared_share_:
            return self._shared_core(code, rng)
        return self._fill(rng.choice(self.banks_[code][key]), code, rng)

    def _shared_core(self, code: str, rng: random.Random) -> str:
        """A symptom several leaves share, said with this leaf's context words before or after it."""
        symptoms, before, after = self.shared_[code]
        symptom = rng.choice(symptoms)
        if after and (not before or rng.random() < 0.35):
            return symptom + rng.choice(["，", "，", " ", "。"]) + rng.choice(after)
        head = rng.choice(before)
        return head + ("" if head.endswith(("，", "是")) else rng.choice(["", "", "，", "今天"])) + symptom

    def _common(self, key: str, rng: random.Random, inquiry: bool = False) -> str:
        items = self.common_[key]
        if inquiry:
            items = [s for s in items if not any(t in s for t in _COMPLAINT_TONE)] or items
        return rng.choice(items)

    @staticmethod
    def _end(rng: random.Random, question: bool, weights: tuple[int, int, int] = (6, 1, 2)) -> str:
        if question:
            return rng.choices(["？", "?", ""], weights=(7, 1, 2))[0]
        return rng.choices(["。", "！", ""], weights=weights)[0]

    def _join(self, parts: list[str], rng: random.Random, *, end: str | None = None, question: bool = False) -> str:
        parts = [p.strip().rstrip(_END_PUNCT) for p in parts if p and p.strip()]
        parts = [p for p in parts if p]
        if not parts:
            return ""
        out = parts[0]
        for p in parts[1:]:
            out += rng.choices(["，", "。", " ", ","], weights=(10, 4, 1, 1))[0] + p
        if end is None:
            last = parts[-1]
            question = question or last.endswith(("吗", "呢", "么", "没有", "是不是", "啊")) or "怎么" in last[-6:]
            end = self._end(rng, question)
        return out + end

    def _plain(self, code: str, rng: random.Random, inquiry: bool) -> str:
        core = self._pick(code, "core", rng)
        parts: list[str] = []
        if rng.random() < 0.45:
            parts.append(self._common("openers", rng, inquiry))
        detail = self._pick(code, "details", rng) if rng.random() < 0.5 else ""
        if detail and rng.random() < 0.3:
            parts += [detail, core]  # "重启了也没用，还是打不出去"
        else:
            parts += [core, detail]
        if rng.random() < 0.5:
            parts.append(self._pick(code, "asks", rng))
        if rng.random() < 0.12:
            parts.append(self._common("closers", rng, inquiry))
        return self._join(parts, rng, question=inquiry and rng.random() < 0.7)

    def _angry(self, code: str, rng: random.Random) -> str:
        core = self._pick(code, "core", rng).rstrip(_END_PUNCT)
        bang = rng.choice(["！", "！！", "！！！", "!", "!!"])
        parts: list[str] = []
        if rng.random() < 0.3:
            parts.append(rng.choice(["我要投诉", "喂", "我跟你说", "你好", "我再说一遍"]))
        if rng.random() < 0.6:
            parts.append(self._common("angry", rng))
        parts.append(core)
        if rng.random() < 0.25:
            parts.append(self._pick(code, "short", rng))  # the caller repeats the problem
        if rng.random() < 0.45:
            parts.append(self._pick(code, "details", rng))
        if rng.random() < 0.6:
            parts.append(self._pick(code, "asks", rng))
        if rng.random() < 0.55:
            parts.append(self._common("angry", rng))
        parts = [p.strip().rstrip(_END_PUNCT) for p in parts if p.strip()]
        text = ""
        for i, p in enumerate(parts):
            sep = "" if i == 0 else rng.choice(["，", bang, "。", "，"])
            text += sep + p
        return text + bang

    def _long(self, code: str, rng: random.Random, inquiry: bool) -> str:
        for _ in range(6):
            parts = []
            if rng.random() < 0.5:
                parts.append(self._common("openers", rng, inquiry))
            parts.append(self._common("backgrounds", rng))
            template = rng.choice(self.banks_[code]["core"])
            core = self._fill(template, code, rng)
            if "{time}" not in template and rng.random() < 0.5:
                lead = rng.choice(["从{time}开始", "{time}开始", "就是{time}", "{time}"])
                core = self._fill(lead, code, rng) + "，" + core
            parts.append(core)
            details = self.banks_[code]["details"]
            for d in rng.sample(details, k=min(len(details), rng.choice([1, 2, 2, 3]))):
                parts.append(self._fill(d, code, rng))
            if rng.random() < 0.75:
                parts.append(self._pick(code, "asks", rng))
            if rng.random() < 0.3:
                parts.append(self._common("closers", rng, inquiry))
            text = self._join(parts, rng, question=inquiry and rng.random() < 0.6)
            if len(text) < 60:
                text = text.rstrip(_END_PUNCT) + "，" + self._pick(code, "details", rng) + "。"
            if 60 <= len(text) <= 200:
                return text
        return text[:200]

    def _short(self, code: str, rng: random.Random, inquiry: bool) -> str:
        base = self._pick(code, "short", rng)
        if rng.random() < 0.25:
            # the clause of a core phrase that carries the problem (the longest), if it is short enough
            clause = max(re.split(r"[，。！？,!?]", self._pick(code, "core", rng)), key=len)
            if len(clause) <= 14:
                base = clause
        base = base.strip().rstrip(_END_PUNCT)
        prefix = rng.choices(["", "喂，", "喂", "那个", "你好，", "就是", "哎", "我"], weights=(10, 3, 2, 2, 2, 1, 1, 1))[0]
        if prefix == "我" and base.startswith("我"):
            prefix = ""
        if inquiry:
            suffix = rng.choice(["", "？", "?", "呢", "。"])
        else:
            suffix = rng.choices(["", "。", "！", "啊", "，怎么回事", "，帮我看看"], weights=(8, 3, 2, 1, 1, 1))[0]
        return prefix + base + suffix

    def _asr(self, code: str, rng: random.Random, inquiry: bool) -> str:
        source = self._long(code, rng, inquiry) if rng.random() < 0.3 else self._plain(code, rng, inquiry)
        text = _spoken_digits(source, self.common_["digits"], rng)
        # 1-2 homophone slips among the words present
        keys = [k for k in self.common_["homophones"] if k in text]
        for k in rng.sample(keys, k=min(len(keys), rng.choice([1, 1, 2]))):
            text = text.replace(k, rng.choice(self.common_["homophones"][k]), 1)
        # clause boundaries become pauses: nothing, a space, or a filler
        pieces = [p for p in re.split(r"[，。！？、；：,.!?;:…~～\s]+", text) if p]
        fillers = self.common_["fillers"]
        out: list[str] = []
        for i, p in enumerate(pieces):
            if i and rng.random() < 0.35:
                out.append(rng.choice(fillers))
            out.append(p)
        if rng.random() < 0.3:
            out.insert(0, rng.choice(fillers))
        sep = rng.choice(["", " ", ""])
        text = sep.join(out)
        if rng.random() < 0.4 and len(text) > 4:  # stutter: repeat a short chunk
            i = rng.randrange(0, len(text) - 2)
            n = rng.choice([1, 2, 2])
            text = text[: i + n] + text[i : i + n] + text[i + n :]
        return "".join(ch for ch in text if ch not in PUNCTUATION).strip()

    def _two_issue(self, code: str, rng: random.Random, others: list[str]) -> tuple[str, list[str]]:
        other = rng.choice(others)
        first = [self._pick(code, "core", rng)]
        if rng.random() < 0.5:
            first.append(self._pick(code, "details", rng))
        if rng.random() < 0.4:
            first.insert(0, self._common("openers", rng))
        connector = "顺便问一下" if other.startswith(NON_COMPLAINT_PREFIX) else self._common("connectors", rng)
        second = self._pick(other, "core", rng).rstrip(_END_PUNCT)
        text = self._join(first, rng, end="。" if rng.random() < 0.6 else "，") + connector + rng.choice(["，", "", " "]) + second
        return text + rng.choice(["。", "？", ""]), [code, other]

    def _agent(self, code: str, rng: random.Random) -> str:
        text = self._pick(code, "agent_summary", rng).strip()
        if not text.endswith(("。", "！", "？")):
            text += "。"
        if rng.random() < 0.4:
            text += self._common("agent_tails", rng)
        return text


def _shared_symptoms(spec: Any, banks: dict[str, Any], taxonomy: Any, where: Path
                     ) -> tuple[dict[str, tuple[list[str], list[str], list[str]]], float]:
    """Validate ``common.json``'s optional ``shared_symptoms``; returns {code: (symptoms, before, after)}, share.

    A taxonomy code without a phrase bank in this run (a custom ``phrases_dir``) is skipped.
    """
    if spec is None:
        return {}, 0.0
    share = spec.get("share") if isinstance(spec, dict) else None
    if not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
        raise ArtifactError(f"{where}: shared_symptoms.share must be a number in [0, 1], got {share!r}")
    out: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for i, group in enumerate(spec.get("groups") or []):
        symptoms = group.get("symptoms") if isinstance(group, dict) else None
        codes = group.get("codes") if isinstance(group, dict) else None
        if not _strings(symptoms) or not isinstance(codes, dict) or len(codes) < 2:
            raise ArtifactError(f"{where}: shared_symptoms.groups[{i}] needs 'symptoms' (a non-empty list of "
                                "strings) and 'codes' (at least two leaf codes, each with 'before'/'after' lists)")
        for code, ctx in codes.items():
            if code not in taxonomy:
                raise ArtifactError(f"{where}: shared_symptoms.groups[{i}] names {code!r}, which is not a "
                                    "taxonomy code; use a leaf code of data/taxonomy.tsv")
            before, after = (ctx.get("before") or [], ctx.get("after") or []) if isinstance(ctx, dict) else ([], [])
            if not (before or after) or not all(_strings(x) for x in (before, after) if x):
                raise ArtifactError(f"{where}: shared_symptoms.groups[{i}].codes[{code!r}] needs a non-empty "
                                    "'before' or 'after' list of context words")
            if code in out:
                raise ArtifactError(f"{where}: {code!r} is in more than one shared_symptoms group")
            if code in banks:
                out[code] = (list(symptoms), list(before), list(after))
    return out, float(share)


def _strings(items: Any) -> bool:
    return isinstance(items, list) and bool(items) and all(isinstance(s, str) and s.strip() for s in items)


def _spoken_digits(text: str, digits: dict[str, list[str]], rng: random.Random) -> str:
    """Digits as an ASR engine writes them: long runs digit by digit (一三八 / 幺三八), short ones as numbers."""

    def say(m: re.Match[str]) -> str:
        run = m.group(0)
        if len(run) >= 3 and not (len(run) == 3 and run.endswith("0") and rng.random() < 0.5):
            return "".join(rng.choice(digits[d]) for d in run)
        return _cn_number(int(run))

    return _DIGITS_RE.sub(say, text)


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_NUM[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN_NUM[tens]) + "十" + (_CN_NUM[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return _CN_NUM[hundreds] + "百"
        if rest < 10:
            return _CN_NUM[hundreds] + "百零" + _CN_NUM[rest]
        tail = _cn_number(rest)
        return _CN_NUM[hundreds] + "百" + (tail if rest >= 20 else "一" + tail)
    return "".join(_CN_NUM[int(d)] for d in str(n))


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"generator bank not found: {path}; restore it from data/generator or pass its path")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"generator bank {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"generator bank {path} must hold a JSON object, got {type(data).__name__}")
    return data


def generate(
    *,
    seed: int = 13,
    per_code: int = 400,
    codes: list[str] | None = None,
    phrases_dir: str | Path | None = None,
    common_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """One-call form of :class:`CorpusGenerator`; returns the records."""
    gen = CorpusGenerator(seed=seed, per_code=per_code, phrases_dir=phrases_dir, common_path=common_path)
    gen.warm_up()
    return gen.run(codes)["records"]
