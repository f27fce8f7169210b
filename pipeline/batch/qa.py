"""QA scorecards for recorded calls: per-call flags from an editable rules file, rolled up per agent and team.

The rules are data, ``data/qa/rules.json`` (an operator edits it, no code change; its ``_doc`` key describes the
format). Each flag is a set of regex *components* over the call's agent turns, each with exclusion contexts
(``unless``: 不好意思您再说一遍 is not an apology), turn-level exceptions (``unless_turn``: a proper hand-off) and
negation or condition windows (``void_before``: 我没法保证能退 is not a promise). Components are built from named
word lists and patterns, so a rule names the *shape* of a phrase (a promise word, up to ten characters, a
compensation verb) rather than listing phrases, and agents' paraphrases match.

Text is normalised (NFKC width folding, traditional → simplified), lower-cased, and ASR fillers (嗯, 呃) and
whitespace are dropped before matching, so ``工号 3 0 8 8`` reads as 工号3088. Spoken agent numbers
(工号幺零八六) match through ``{@digit}``, built from :mod:`hotline.core.numerals`. Evidence is PII-masked.

The default flags: ``greeting`` (the first agent turn greets *and* gives a name or 工号), ``addressed_by_surname``
(王先生, never a bare 先生), ``apologized``, ``forbidden_phrase`` (buck-passing or a light compensation promise;
*passed* means none was said) and ``closing`` (offers further help or thanks the caller, in the last agent turns).

Example:
    >>> scorer = QaScorer()
    >>> card = scorer.run([[
    ...     {"speaker": "agent", "text": "您好 工号幺零八六 很高兴为您服务"},
    ...     {"speaker": "customer", "text": "我姓王 宽带断了两天了"},
    ...     {"speaker": "agent", "text": "王先生 给您带来不便非常抱歉 还有其他问题吗"},
    ... ]])["scorecards"][0]
    >>> [(f.flag, f.passed, f.turn) for f in card.flags]  # doctest: +NORMALIZE_WHITESPACE
    [('greeting', True, 0), ('addressed_by_surname', True, 2), ('apologized', True, 2),
     ('forbidden_phrase', True, None), ('closing', True, 2)]
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.normalise import normalise_text
from hotline.core.numerals import CAPITAL_DIGITS, SPOKEN_DIGITS
from hotline.core.resources import data_path
from hotline.core.results import (
    QaAgentSummary,
    QaFlag,
    QaFlagRate,
    QaScorecard,
    QaTeamFlag,
    QaTeamSummary,
    QaVerdict,
    Speaker,
)

__all__ = ["QaScorer", "QaAggregator", "QaRules", "load_rules", "DEFAULT_RULES"]

logger = logging.getLogger(__name__)

DEFAULT_RULES = ("qa", "rules.json")
"""Where the shipped rules live under the ``hotline.data`` package."""

_RULES_VERSION = 1
_TOP_KEYS = {"_doc", "version", "fillers", "words", "patterns", "flags"}
_FLAG_KEYS = {"description", "scope", "last_agent_turns", "require", "fails_when", "components"}
_COMPONENT_KEYS = {"description", "patterns", "unless", "unless_turn", "void_before", "void_after"}
_WINDOW_KEYS = {"window", "pattern"}
_MACRO_RE = re.compile(r"\{@([A-Za-z_][A-Za-z0-9_]*)\}")
# Built-in macros: digits as agents say their 工号 (幺零八六, 3056, 壹贰), from the one numeral module.
_BUILTINS = {"digit": f"[0-9{SPOKEN_DIGITS}{CAPITAL_DIGITS}十百千拾]"}
_SEPARATORS = ",.!?;。、…~"
_SEP_RE = re.compile(f"[{re.escape(_SEPARATORS)}]")
# A turn that says nothing but 喂 / 嗯 / punctuation is not "the first agent turn" of a call.
_CONTENT_RE = re.compile(r"[^\W_喂啊哦哎诶噢]")
_NUMBERISH = set(f"0123456789*{SPOKEN_DIGITS}{CAPITAL_DIGITS}")
_SNIPPET_PAD = 8
# Agent turns this short (好的, 再见, 不客气) do not count toward a last_agent_turns window.
_SHORT_TURN = 4
_SNIPPET_MAX = 48


class Scope(str, Enum):
    """Which agent turns a flag reads."""

    FIRST_AGENT_TURN = "first_agent_turn"
    AGENT_TURNS = "agent_turns"
    LAST_AGENT_TURNS = "last_agent_turns"


class Require(str, Enum):
    ALL = "all"  # every component, in the same turn
    ANY = "any"


class FailsWhen(str, Enum):
    MISSING = "missing"  # the flag passes when its components are found (a greeting)
    FOUND = "found"  # the flag fails when any component is found (a forbidden phrase)


@dataclass(frozen=True)
class _Window:
    size: int
    regex: re.Pattern[str]


@dataclass(frozen=True)
class _Component:
    name: str
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None
    unless_turn: re.Pattern[str] | None
    before: _Window | None
    after: _Window | None

    def find(self, text: str) -> tuple[int, int] | None:
        """The first hit in ``text`` that no exclusion voids, as a (start, end) span."""
        if self.unless_turn is not None and self.unless_turn.search(text):
            return None
        voids: list[tuple[int, int]] | None = None
        pos = 0
        while (m := self.regex.search(text, pos)) is not None:
            start, end = m.span()
            pos = start + 1  # a void hit may hide a valid one that starts inside it
            if start == end:
                continue
            if self.unless is not None:
                if voids is None:
                    voids = [u.span() for u in self.unless.finditer(text) if u.end() > u.start()]
                if any(s < end and start < e for s, e in voids):
                    continue
            if self.before is not None and self.before.regex.search(_clause_before(text, start, self.before.size)):
                continue
            if self.after is not None and self.after.regex.search(_clause_after(text, end, self.after.size)):
                continue
            return start, end
        return None


@dataclass(frozen=True)
class _Flag:
    name: str
    description: str
    scope: Scope
    last_n: int
    require: Require
    fails_when: FailsWhen
    components: tuple[_Component, ...]


@dataclass(frozen=True)
class QaRules:
    """Compiled QA rules: what :func:`load_rules` returns and :class:`QaScorer` runs."""

    path: Path
    version: int
    fillers: str
    flags: tuple[_Flag, ...]

    @property
    def names(self) -> list[str]:
        """The flag names, in output order."""
        return [f.name for f in self.flags]


def _clause_before(text: str, pos: int, size: int) -> str:
    seg = text[max(0, pos - size) : pos]
    cut = max(seg.rfind(c) for c in _SEPARATORS)
    return seg[cut + 1 :]


def _clause_after(text: str, pos: int, size: int) -> str:
    seg = text[pos : pos + size]
    m = _SEP_RE.search(seg)
    return seg if m is None else seg[: m.start()]


# -- loading the rules file -----------------------------------------------------------------------
def _alternation(words: list[str]) -> str:
    # single characters as one class (fast to scan: 300 surnames are one set test), longer words longest first
    chars = sorted({w for w in words if len(w) == 1})
    longer = sorted({w for w in words if len(w) > 1}, key=lambda w: (-len(w), w))
    parts = [re.escape(w) for w in longer]
    if chars:
        parts.append("[" + "".join(re.escape(c) for c in chars) + "]")
    return "(?:" + "|".join(parts) + ")"


class _Loader:
    def __init__(self, path: Path, raw: Any) -> None:
        self.path = path
        self.raw = raw
        self.cache: dict[str, str] = {}
        self.words: dict[str, list[str]] = {}
        self.patterns: dict[str, str] = {}

    def fail(self, where: str, problem: str, fix: str) -> ArtifactError:
        return ArtifactError(f"QA rules {self.path}: {where} {problem}; {fix}")

    def load(self) -> QaRules:
        raw = self.raw
        if not isinstance(raw, dict):
            raise self.fail("the file", f"must hold a JSON object, got {type(raw).__name__}",
                            "restore data/qa/rules.json from the release")
        self._keys(raw, _TOP_KEYS, "the top level")
        if raw.get("version") != _RULES_VERSION:
            raise self.fail("'version'", f"is {raw.get('version')!r}, this Hotline reads version {_RULES_VERSION}",
                            f"set \"version\": {_RULES_VERSION} and follow the _doc of the shipped file")
        fillers = raw.get("fillers", [])
        if not isinstance(fillers, list) or not all(isinstance(f, str) and len(f) == 1 for f in fillers):
            raise self.fail("'fillers'", f"must be a list of single characters, got {fillers!r}",
                            'write e.g. ["嗯", "呃"]')
        words = raw.get("words", {})
        patterns = raw.get("patterns", {})
        if not isinstance(words, dict) or not isinstance(patterns, dict):
            raise self.fail("'words' and 'patterns'", "must be JSON objects", "map names to lists / strings")
        for name, items in words.items():
            if not isinstance(items, list) or not items or not all(isinstance(w, str) and w for w in items):
                raise self.fail(f"words.{name}", f"must be a non-empty list of non-empty strings, got {items!r:.80}",
                                "list the words, or delete the entry and every {@" + name + "} that uses it")
        for name, body in patterns.items():
            if not isinstance(body, str) or not body:
                raise self.fail(f"patterns.{name}", f"must be a non-empty regex string, got {body!r:.80}",
                                "write the regular expression as a JSON string")
        clash = (set(words) & set(patterns)) | ((set(words) | set(patterns)) & set(_BUILTINS))
        if clash:
            raise self.fail("names", f"{sorted(clash)} are defined twice (words, patterns or built-in {sorted(_BUILTINS)})",
                            "rename one of them")
        self.words = {k: [w.lower() for w in v] for k, v in words.items()}
        self.patterns = patterns
        flags_raw = raw.get("flags")
        if not isinstance(flags_raw, dict) or not flags_raw:
            raise self.fail("'flags'", "must be a non-empty object of flag name → rule", "restore the shipped flags")
        flags = tuple(self._flag(name, spec) for name, spec in flags_raw.items())
        return QaRules(path=self.path, version=_RULES_VERSION, fillers="".join(fillers), flags=flags)

    def _keys(self, obj: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise self.fail(where, f"has unknown keys {unknown}",
                            f"use only {sorted(allowed)} (a typo would silently switch a rule off)")

    def _enum(self, enum: type[Enum], value: Any, where: str, default: str) -> Any:
        value = default if value is None else value
        try:
            return enum(value)
        except ValueError:
            raise self.fail(where, f"is {value!r}", f"use one of {[e.value for e in enum]}") from None

    def _flag(self, name: str, spec: Any) -> _Flag:
        where = f"flags.{name}"
        if not isinstance(spec, dict):
            raise self.fail(where, f"must be an object, got {type(spec).__name__}", "see the _doc key")
        self._keys(spec, _FLAG_KEYS, where)
        scope = self._enum(Scope, spec.get("scope"), f"{where}.scope", "agent_turns")
        last_n = spec.get("last_agent_turns", 2)
        if not isinstance(last_n, int) or isinstance(last_n, bool) or last_n < 1:
            raise self.fail(f"{where}.last_agent_turns", f"must be an integer >= 1, got {last_n!r}", "e.g. 2")
        comps = spec.get("components")
        if not isinstance(comps, dict) or not comps:
            raise self.fail(f"{where}.components", "must be a non-empty object", "give the flag at least one component")
        return _Flag(
            name=name,
            description=str(spec.get("description", "")),
            scope=scope,
            last_n=last_n,
            require=self._enum(Require, spec.get("require"), f"{where}.require", "any"),
            fails_when=self._enum(FailsWhen, spec.get("fails_when"), f"{where}.fails_when", "missing"),
            components=tuple(self._component(f"{where}.components.{c}", c, s) for c, s in comps.items()),
        )

    def _component(self, where: str, name: str, spec: Any) -> _Component:
        if not isinstance(spec, dict):
            raise self.fail(where, f"must be an object, got {type(spec).__name__}", "give it 'patterns'")
        self._keys(spec, _COMPONENT_KEYS, where)
        if not spec.get("patterns"):
            raise self.fail(f"{where}.patterns", "is missing or empty", "list at least one regex")
        return _Component(
            name=name,
            regex=self._compile(spec["patterns"], f"{where}.patterns"),
            unless=self._compile(spec["unless"], f"{where}.unless") if spec.get("unless") else None,
            unless_turn=self._compile(spec["unless_turn"], f"{where}.unless_turn") if spec.get("unless_turn") else None,
            before=self._window(spec.get("void_before"), f"{where}.void_before"),
            after=self._window(spec.get("void_after"), f"{where}.void_after"),
        )

    def _window(self, spec: Any, where: str) -> _Window | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise self.fail(where, f"must be an object, got {spec!r:.60}", '{"window": 10, "pattern": "..."}')
        self._keys(spec, _WINDOW_KEYS, where)
        size = spec.get("window")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
            raise self.fail(f"{where}.window", f"must be an integer in 1..100 (characters), got {size!r}", "e.g. 10")
        return _Window(size=size, regex=self._compile([spec.get("pattern", "")], f"{where}.pattern"))

    def _compile(self, patterns: Any, where: str) -> re.Pattern[str]:
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise self.fail(where, f"must be a list of non-empty regex strings, got {patterns!r:.80}",
                            "write each regular expression as a JSON string")
        parts = [self._expand(p, where, ()) for p in patterns]
        body = parts[0] if len(parts) == 1 else "|".join(f"(?:{p})" for p in parts)
        try:
            return re.compile(body)
        except re.error as exc:
            raise self.fail(where, f"does not compile ({exc})", "fix the regular expression") from None

    def _expand(self, pattern: str, where: str, stack: tuple[str, ...]) -> str:
        return _MACRO_RE.sub(lambda m: self._macro(m.group(1), where, stack), pattern)

    def _macro(self, name: str, where: str, stack: tuple[str, ...]) -> str:
        if name in self.cache:
            return self.cache[name]
        if name in stack:
            raise self.fail(where, f"expands {{@{name}}} inside itself ({' → '.join((*stack, name))})",
                            "break the cycle")
        if name in _BUILTINS:
            value = _BUILTINS[name]
        elif name in self.words:
            value = _alternation(self.words[name])
        elif name in self.patterns:
            body = self._expand(self.patterns[name], f"patterns.{name}", (*stack, name))
            value = f"(?:{body})"
            try:
                re.compile(value)
            except re.error as exc:
                raise self.fail(f"patterns.{name}", f"does not compile ({exc})", "fix the regular expression") from None
        else:
            known = sorted({*self.words, *self.patterns, *_BUILTINS})
            raise self.fail(where, f"uses {{@{name}}}, which is neither a word list nor a pattern (known: {known})",
                            "add it under 'words' or 'patterns', or fix the name")
        self.cache[name] = value
        return value


def load_rules(path: str | Path | None = None) -> QaRules:
    """Read and compile a QA rules file (the shipped ``data/qa/rules.json`` when ``path`` is None).

    Raises:
        ArtifactError: The file is missing, is not valid JSON, or a rule is malformed (the message names the
            key and the fix).
    """
    file = data_path(*DEFAULT_RULES) if path is None else Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"QA rules file {file} does not exist; pass an existing rules_path or restore "
                            "data/qa/rules.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"QA rules file {file} is not valid UTF-8 JSON ({exc}); fix the file") from None
    rules = _Loader(file, raw).load()
    logger.debug("loaded %d QA flags from %s", len(rules.flags), file)
    return rules


# -- scoring ----------------------------------------------------------------------------------------
def _snippet(text: str, start: int, end: int) -> str:
    s, e = max(0, start - _SNIPPET_PAD), min(len(text), end + _SNIPPET_PAD)
    # never cut through a number: a half phone number would escape masking
    while s > 0 and text[s - 1] in _NUMBERISH:
        s -= 1
    while e < len(text) and text[e] in _NUMBERISH:
        e += 1
    out = mask_pii(text[s:e]).text
    return ("…" if s > 0 else "") + out + ("…" if e < len(text) else "")


def _evidence(text: str, spans: list[tuple[int, int]]) -> str:
    spans = sorted(spans)
    if spans[-1][1] - spans[0][0] <= _SNIPPET_MAX:
        return _snippet(text, spans[0][0], max(e for _, e in spans))
    return " … ".join(_snippet(text, s, e) for s, e in spans)


def _field(call: Any, key: str) -> Any:
    return call.get(key) if isinstance(call, Mapping) else getattr(call, key, None)


class QaScorer:
    """Score recorded calls against the QA rules: one :class:`~hotline.core.results.QaScorecard` per call.

    Args:
        rules_path: A rules file in the format of the shipped ``data/qa/rules.json`` (None: the shipped one).

    A call is a list of turns ``{"speaker": "agent"|"customer", "text": ...}``, or a mapping with ``turns`` and
    optional ``call_id``, ``agent_id`` and ``team`` (a line of a calls JSONL file). Turn indices in the result
    index that list.

    Example:
        >>> scorer = QaScorer()
        >>> scorer.warm_up()
        >>> card = scorer.score([{"speaker": "agent", "text": "您好请讲"},
        ...                      {"speaker": "customer", "text": "我的话费扣多了"},
        ...                      {"speaker": "agent", "text": "放心 多扣的钱肯定全退给您"}])
        >>> {f.flag: f.passed for f in card.flags}["greeting"], card.flags[3].turn, card.flags[3].component
        (False, 2, 'light_promise')
    """

    def __init__(self, *, rules_path: str | Path | None = None) -> None:
        self.rules_path = rules_path
        self.rules_: QaRules | None = None

    def warm_up(self) -> None:
        """Load and compile the rules. Safe to call twice (the file is read once)."""
        if self.rules_ is None:
            self.rules_ = load_rules(self.rules_path)

    @property
    def flags(self) -> list[str]:
        """The flag names the scorecards carry, in order."""
        self.warm_up()
        assert self.rules_ is not None
        return self.rules_.names

    def run(
        self,
        calls: Sequence[Any],
        *,
        call_ids: Sequence[str | None] | None = None,
        agent_ids: Sequence[str | None] | None = None,
        teams: Sequence[str | None] | None = None,
    ) -> dict[str, list[QaScorecard]]:
        """Scorecards for a batch of calls.

        Args:
            calls: Calls, each a list of turns or a mapping with ``turns`` (see the class docstring).
            call_ids, agent_ids, teams: Per-call values, overriding the calls' own keys (same length as calls).

        Returns:
            ``{"scorecards": [QaScorecard, ...]}`` in input order.

        Raises:
            InvalidInputError: A call or turn is malformed; the message names its position.
        """
        if isinstance(calls, (str, Mapping)) or not isinstance(calls, Sequence):
            raise InvalidInputError(f"calls must be a list of calls, got {type(calls).__name__}; "
                                    "wrap a single call as [turns]")
        for name, values in (("call_ids", call_ids), ("agent_ids", agent_ids), ("teams", teams)):
            if values is not None and len(values) != len(calls):
                raise InvalidInputError(f"{name} must have one entry per call ({len(calls)}), got {len(values)}")
        cards = []
        for i, call in enumerate(calls):
            turns = call if isinstance(call, (list, tuple)) else _field(call, "turns")
            if isinstance(call, (str, bytes)) or turns is None:
                raise InvalidInputError(
                    f"calls[{i}] must be a list of turns or a mapping with 'turns', got {type(call).__name__}"
                )
            meta = {k: (_field(call, k) if not isinstance(call, (list, tuple)) else None)
                    for k in ("call_id", "agent_id", "team")}
            for key, values in (("call_id", call_ids), ("agent_id", agent_ids), ("team", teams)):
                if values is not None:
                    meta[key] = values[i]
            cards.append(self.score(turns, where=f"calls[{i}]", **meta))
        return {"scorecards": cards}

    def score(
        self,
        turns: Sequence[Any],
        *,
        call_id: str | None = None,
        agent_id: str | None = None,
        team: str | None = None,
        where: str = "call",
    ) -> QaScorecard:
        """The scorecard of one call (``turns`` as in :meth:`run`)."""
        self.warm_up()
        rules = self.rules_
        assert rules is not None
        for key, value in (("call_id", call_id), ("agent_id", agent_id), ("team", team)):
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(f"{where}.{key} must be a string, got {type(value).__name__} ({value!r:.40})")
        agent_turns = self._agent_turns(turns, rules, where)
        flags = [self._flag(flag, agent_turns) for flag in rules.flags]
        return QaScorecard(call_id=call_id, agent_id=agent_id, team=team,
                           passed=all(f.passed for f in flags), flags=flags)

    # the call's agent turns as (index, prepared text), in order
    def _agent_turns(self, turns: Sequence[Any], rules: QaRules, where: str) -> list[tuple[int, str]]:
        if isinstance(turns, (str, Mapping)) or not isinstance(turns, Sequence):
            raise InvalidInputError(f"{where}.turns must be a list of turns, got {type(turns).__name__}")
        if not turns:
            raise InvalidInputError(f"{where} has no turns; pass at least one {{'speaker', 'text'}} turn")
        drop = {ord(c): None for c in rules.fillers + " "}
        out = []
        for j, turn in enumerate(turns):
            speaker, text = _field(turn, "speaker"), _field(turn, "text")
            speaker = speaker.value if isinstance(speaker, Enum) else speaker
            if speaker not in (Speaker.AGENT.value, Speaker.CUSTOMER.value):
                raise InvalidInputError(
                    f"{where}.turns[{j}].speaker must be 'agent' or 'customer', got {speaker!r:.40}; "
                    "label each turn with who said it"
                )
            if not isinstance(text, str):
                raise InvalidInputError(f"{where}.turns[{j}].text must be a string, got {type(text).__name__}")
            if speaker == Speaker.AGENT.value:
                prepared = normalise_text(text).lower().translate(drop)
                if prepared:
                    out.append((j, prepared))
        return out

    @staticmethod
    def _scope(flag: _Flag, agent_turns: list[tuple[int, str]]) -> list[tuple[int, str]]:
        if flag.scope is Scope.FIRST_AGENT_TURN:
            first = next((t for t in agent_turns if _CONTENT_RE.search(t[1])), None)
            return [] if first is None else [first]
        if flag.scope is Scope.LAST_AGENT_TURNS:
            # 好的 / 再见 after the real closing do not push it out of the window
            counted, start = 0, len(agent_turns)
            while start > 0 and counted < flag.last_n:
                start -= 1
                text = agent_turns[start][1]
                counted += len(text) - sum(map(text.count, _SEPARATORS)) > _SHORT_TURN
            return agent_turns[start:]
        return agent_turns

    def _flag(self, flag: _Flag, agent_turns: list[tuple[int, str]]) -> QaFlag:
        scope = self._scope(flag, agent_turns)
        names = [c.name for c in flag.components]
        if not scope:
            return QaFlag(flag=flag.name, passed=flag.fails_when is FailsWhen.FOUND, turn=None,
                          evidence="the call has no agent turn")
        if flag.fails_when is FailsWhen.FOUND:
            for idx, text in scope:
                for comp in flag.components:
                    span = comp.find(text)
                    if span is not None:
                        return QaFlag(flag=flag.name, passed=False, turn=idx, evidence=_evidence(text, [span]),
                                      component=comp.name)
            return QaFlag(flag=flag.name, passed=True, turn=None,
                          evidence=f"no {' / '.join(names)} in {len(scope)} agent turn(s)")
        partial: tuple[int, str, dict[str, tuple[int, int]]] | None = None
        for idx, text in scope:
            found: dict[str, tuple[int, int]] = {}
            for comp in flag.components:
                span = comp.find(text)
                if span is not None:
                    found[comp.name] = span
                    if flag.require is Require.ANY:
                        return QaFlag(flag=flag.name, passed=True, turn=idx, evidence=_evidence(text, [span]),
                                      component=comp.name)
            if found and len(found) == len(names):
                return QaFlag(flag=flag.name, passed=True, turn=idx, evidence=_evidence(text, list(found.values())),
                              component="+".join(names))
            if found and partial is None:
                partial = (idx, text, found)
        return self._failure(flag, scope, names, partial)

    @staticmethod
    def _failure(flag: _Flag, scope: list[tuple[int, str]], names: list[str],
                 partial: tuple[int, str, dict[str, tuple[int, int]]] | None) -> QaFlag:
        # the turn that decided a failure: the one turn a single-turn scope reads, the last of a closing window
        turn = {Scope.FIRST_AGENT_TURN: scope[0][0], Scope.LAST_AGENT_TURNS: scope[-1][0]}.get(flag.scope)
        where = {Scope.FIRST_AGENT_TURN: "the first agent turn", Scope.LAST_AGENT_TURNS:
                 f"the last {len(scope)} agent turn(s)"}.get(flag.scope, f"{len(scope)} agent turn(s)")
        if partial is not None:
            idx, text, found = partial
            missing = [n for n in names if n not in found]
            return QaFlag(flag=flag.name, passed=False, turn=idx,
                          evidence=f"{'+'.join(found)} ({_evidence(text, list(found.values()))}) but no "
                                   f"{' / '.join(missing)} in {where}")
        evidence = f"no {' / '.join(names)} in {where}"
        if flag.scope is not Scope.AGENT_TURNS:
            text = scope[-1][1]
            evidence += f": {_snippet(text, 0, min(len(text), _SNIPPET_MAX - 2 * _SNIPPET_PAD))}"
        return QaFlag(flag=flag.name, passed=False, turn=turn, evidence=evidence)


# -- roll-ups -----------------------------------------------------------------------------------------
class QaAggregator:
    """Pass rates per agent and per team, and whether a failing flag is one agent's or the team's.

    For each team and flag: agents with at least ``min_calls`` calls and a pass rate under ``pass_target`` are
    *below*. The failure is ``team_wide`` (a training issue: fix the script or coaching for everyone) when more
    than ``team_wide_share`` of those agents are below, or when the team as a whole misses the target and no
    below agent is at least ``individual_gap`` under the rest of the team. Otherwise each below agent's failure
    is ``individual``. Agents with fewer calls that miss the target get ``too_few_calls``.

    Args:
        pass_target: The pass rate a flag should reach (0..1).
        team_wide_share: A failure is team-wide when more than this share of the team's agents are below target.
        individual_gap: How far under the rest of the team an agent must be to fail individually (0..1).
        min_calls: Calls an agent needs before a verdict is given.
        default_team: The team of scorecards that name none (and that ``teams`` does not map).

    Example:
        >>> from hotline.core.results import QaFlag, QaScorecard
        >>> def card(agent, ok):
        ...     return QaScorecard(agent_id=agent, passed=ok, flags=[QaFlag(flag="greeting", passed=ok, turn=0,
        ...                        evidence="")])
        >>> cards = [card(a, a != "A3" or i == 0) for a in ("A1", "A2", "A3") for i in range(4)]
        >>> out = QaAggregator().run(cards)
        >>> out["teams"][0].flags[0].individual, out["agents"][2].flags[0].verdict.value
        (['A3'], 'individual')
    """

    def __init__(self, *, pass_target: float = 0.8, team_wide_share: float = 0.5, individual_gap: float = 0.2,
                 min_calls: int = 3, default_team: str = "all") -> None:
        self.pass_target = pass_target
        self.team_wide_share = team_wide_share
        self.individual_gap = individual_gap
        self.min_calls = min_calls
        self.default_team = default_team

    def warm_up(self) -> None:
        """Check the settings. Safe to call twice."""
        for name, value in (("pass_target", self.pass_target), ("team_wide_share", self.team_wide_share),
                            ("individual_gap", self.individual_gap)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"{name} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.min_calls, int) or self.min_calls < 1:
            raise InvalidInputError(f"min_calls must be an integer >= 1, got {self.min_calls!r}")
        if not isinstance(self.default_team, str) or not self.default_team:
            raise InvalidInputError(f"default_team must be a non-empty string, got {self.default_team!r}")

    def run(self, scorecards: Sequence[QaScorecard | Mapping[str, Any]], *,
            teams: Mapping[str, str] | None = None) -> dict[str, list[Any]]:
        """Roll scorecards up.

        Args:
            scorecards: :class:`QaScorecard` objects (or their JSON dicts); each needs an ``agent_id``.
            teams: agent_id → team, for scorecards that carry no team.

        Returns:
            ``{"agents": [QaAgentSummary], "teams": [QaTeamSummary]}``, sorted by team then agent.
        """
        self.warm_up()
        if isinstance(scorecards, (str, Mapping)) or not isinstance(scorecards, Sequence):
            raise InvalidInputError(f"scorecards must be a list, got {type(scorecards).__name__}")
        # team → agent → list of {flag: passed}, plus all-flags-passed per call
        calls: dict[str, dict[str, list[tuple[dict[str, bool], bool]]]] = {}
        flag_order: dict[str, None] = {}
        for i, raw in enumerate(scorecards):
            try:
                card = raw if isinstance(raw, QaScorecard) else QaScorecard.model_validate(raw)
            except Exception as exc:  # pydantic's ValidationError, named for the caller
                raise InvalidInputError(f"scorecards[{i}] is not a QA scorecard ({exc}); pass QaScorer output") from None
            if not card.agent_id:
                raise InvalidInputError(f"scorecards[{i}] has no agent_id; give each call an 'agent_id' "
                                        "(or pass agent_ids to QaScorer.run) before aggregating")
            team = card.team or (teams or {}).get(card.agent_id) or self.default_team
            results = {f.flag: f.passed for f in card.flags}
            flag_order.update(dict.fromkeys(results))
            calls.setdefault(team, {}).setdefault(card.agent_id, []).append((results, card.passed))
        agents_out: list[QaAgentSummary] = []
        teams_out: list[QaTeamSummary] = []
        for team in sorted(calls):
            members = calls[team]
            team_flags, agent_flags = self._team_flags(members, list(flag_order))
            n_team = sum(len(v) for v in members.values())
            teams_out.append(QaTeamSummary(
                team=team, calls=n_team, agents=len(members),
                pass_rate=sum(ok for v in members.values() for _, ok in v) / n_team, flags=team_flags))
            for agent in sorted(members):
                rows = members[agent]
                agents_out.append(QaAgentSummary(agent_id=agent, team=team, calls=len(rows),
                                                 pass_rate=sum(ok for _, ok in rows) / len(rows),
                                                 flags=agent_flags[agent]))
        return {"agents": agents_out, "teams": teams_out}

    def _team_flags(self, members: dict[str, list[tuple[dict[str, bool], bool]]], flags: list[str],
                    ) -> tuple[list[QaTeamFlag], dict[str, list[QaFlagRate]]]:
        team_rows: list[QaTeamFlag] = []
        agent_rows: dict[str, list[QaFlagRate]] = {a: [] for a in members}
        for flag in flags:
            counts = {a: (sum(flag in r for r, _ in rows), sum(r.get(flag, False) for r, _ in rows))
                      for a, rows in members.items()}
            n, p = sum(c for c, _ in counts.values()), sum(k for _, k in counts.values())
            if n == 0:
                continue
            team_rate = p / n
            eligible = [a for a, (c, _) in counts.items() if c >= self.min_calls]
            below = [a for a in eligible if counts[a][1] / counts[a][0] < self.pass_target]
            # an agent stands out when the rest of the team passes at least individual_gap more often
            stands_out = any(
                n == counts[a][0] or (p - counts[a][1]) / (n - counts[a][0]) - counts[a][1] / counts[a][0]
                >= self.individual_gap
                for a in below
            )
            team_wide = bool(below) and (
                (len(eligible) >= 2 and len(below) / len(eligible) > self.team_wide_share)
                or (team_rate < self.pass_target and not stands_out)
            )
            verdicts: dict[str, QaVerdict] = {}
            for agent, (c, k) in counts.items():
                if c == 0 or k / c >= self.pass_target:
                    verdicts[agent] = QaVerdict.OK
                elif c < self.min_calls:
                    verdicts[agent] = QaVerdict.TOO_FEW_CALLS
                else:
                    verdicts[agent] = QaVerdict.TEAM_WIDE if team_wide else QaVerdict.INDIVIDUAL
                if c:
                    agent_rows[agent].append(QaFlagRate(flag=flag, calls=c, passed=k, pass_rate=k / c,
                                                        verdict=verdicts[agent]))
            individual_agents = sorted(a for a, v in verdicts.items() if v is QaVerdict.INDIVIDUAL)
            if team_wide:
                verdict = QaVerdict.TEAM_WIDE
            elif individual_agents:
                verdict = QaVerdict.INDIVIDUAL
            elif team_rate < self.pass_target and not eligible:
                verdict = QaVerdict.TOO_FEW_CALLS
            else:
                verdict = QaVerdict.OK
            team_rows.append(QaTeamFlag(flag=flag, calls=n, passed=p, pass_rate=team_rate, verdict=verdict,
                                        agents_below=sorted(below), individual=individual_agents))
        return team_rows, agent_rows
