"""The FAQ knowledge base (JSONL, one entry a line) and the per-category handling specs.

``faq.jsonl`` line::

    {"id": "kb-001", "question": "光猫亮红灯怎么办", "answer": "先重启光猫……",
     "category": "broadband.cannot_connect", "similar": ["猫上面红灯一直闪", "光猫LOS灯亮红色"]}

``specs.jsonl`` line (one per taxonomy code; optional keys may be missing)::

    {"code": "data.slow", "title": "网速慢", "questions": [...], "checks": [...],
     "causes": [{"cause": ..., "how_to_tell": ...}],
     "ticket_fields": [{"name": ..., "label": ..., "required": true}],
     "dispatch_route": ..., "reply_hint": ...}

Example:
    >>> kb = KnowledgeBase.from_jsonl(default_kb_path())  # doctest: +SKIP
    >>> kb.get("kb-001").question  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.core.jsonl import iter_jsonl, write_jsonl
from hotline.core.resources import data_path

__all__ = [
    "FaqEntry",
    "KnowledgeBase",
    "HandlingSpec",
    "SpecCause",
    "TicketField",
    "load_specs",
    "parse_faq",
    "parse_spec",
    "default_kb_path",
    "default_specs_path",
]


def default_kb_path() -> Path:
    """The shipped FAQ file, ``data/kb/faq.jsonl``."""
    return data_path("kb", "faq.jsonl")


def default_specs_path() -> Path:
    """The shipped handling specs, ``data/kb/specs.jsonl``."""
    return data_path("kb", "specs.jsonl")


@dataclass
class FaqEntry:
    """One FAQ: a canonical question, its answer, an optional taxonomy code and paraphrases."""

    id: str
    question: str
    answer: str
    category: str | None = None
    similar: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBase:
    """An ordered collection of :class:`FaqEntry` with unique ids.

    Example:
        >>> kb = KnowledgeBase([FaqEntry("a", "怎么查话费", "发送CXHF到10086")])
        >>> len(kb), kb.get("a").answer
        (1, '发送CXHF到10086')
    """

    def __init__(self, entries: Iterable[FaqEntry], *, source: str | None = None) -> None:
        self._entries: list[FaqEntry] = list(entries)
        self.source = source
        self._by_id: dict[str, FaqEntry] = {}
        for e in self._entries:
            if e.id in self._by_id:
                raise InvalidInputError(f"FAQ id {e.id!r} appears twice; ids must be unique, rename one")
            self._by_id[e.id] = e

    # -- access ----------------------------------------------------------------------------
    @property
    def entries(self) -> list[FaqEntry]:
        return list(self._entries)

    def get(self, entry_id: str) -> FaqEntry:
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise NotFoundError(f"no FAQ entry with id {entry_id!r} in the knowledge base ({len(self)} entries)") from None

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[FaqEntry]:
        return iter(self._entries)

    # -- I/O -------------------------------------------------------------------------------
    @classmethod
    def from_jsonl(cls, path: str | Path) -> KnowledgeBase:
        """Read and validate a JSONL knowledge base.

        Raises:
            InvalidInputError: naming the file, the line number and the offending field.
        """
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"knowledge base file {str(path)!r} does not exist; pass a JSONL file with one FAQ a line")
        entries: list[FaqEntry] = []
        seen: dict[str, int] = {}
        for lineno, obj in iter_jsonl(path):
            entry = _parse_entry(obj, where=f"{path}:{lineno}")
            if entry.id in seen:
                raise InvalidInputError(
                    f"{path}:{lineno}: field 'id' = {entry.id!r} already used on line {seen[entry.id]}; ids must be unique"
                )
            seen[entry.id] = lineno
            entries.append(entry)
        if not entries:
            raise InvalidInputError(f"knowledge base file {str(path)!r} holds no entries; add at least one FAQ line")
        return cls(entries, source=str(path))

    def to_jsonl(self, path: str | Path) -> Path:
        return write_jsonl([e.to_dict() for e in self._entries], path)


def parse_faq(obj: dict[str, Any], *, where: str = "FAQ entry") -> FaqEntry:
    """One ``faq.jsonl`` object as a :class:`FaqEntry` (what :meth:`KnowledgeBase.from_jsonl` checks per line).

    Raises:
        InvalidInputError: naming ``where`` and the offending field.
    """
    return _parse_entry(obj, where=where)


def _parse_entry(obj: dict[str, Any], *, where: str) -> FaqEntry:
    vals: dict[str, str] = {}
    for key in ("id", "question", "answer"):
        v = obj.get(key)
        if not isinstance(v, str) or not v.strip():
            got = "missing" if key not in obj else repr(v)
            raise InvalidInputError(f"{where}: field {key!r} must be a non-empty string, got {got}")
        vals[key] = v.strip()
    cat = obj.get("category")
    if cat is not None and not isinstance(cat, str):
        raise InvalidInputError(f"{where}: field 'category' must be a string or null, got {cat!r}")
    similar = obj.get("similar", [])
    if similar is None:
        similar = []
    if not isinstance(similar, list) or not all(isinstance(s, str) for s in similar):
        raise InvalidInputError(f"{where}: field 'similar' must be a list of strings, got {similar!r}")
    similar = [s.strip() for s in similar if s.strip()]
    return FaqEntry(vals["id"], vals["question"], vals["answer"], (cat or "").strip() or None, similar)


# -- handling specs ---------------------------------------------------------------------------
@dataclass
class SpecCause:
    cause: str
    how_to_tell: str = ""


@dataclass
class TicketField:
    name: str
    label: str = ""
    required: bool = False


@dataclass
class HandlingSpec:
    """How agents handle one taxonomy code: questions to ask, checks, likely causes, ticket fields."""

    code: str
    title: str = ""
    questions: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    causes: list[SpecCause] = field(default_factory=list)
    ticket_fields: list[TicketField] = field(default_factory=list)
    dispatch_route: str | None = None
    reply_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_specs(path: str | Path | None = None) -> dict[str, HandlingSpec]:
    """Read ``specs.jsonl`` into ``{code: HandlingSpec}``. Only ``code`` is required on each line.

    Raises:
        InvalidInputError: the file is missing, a line is not JSON, or a field has the wrong type.
    """
    path = Path(path) if path is not None else default_specs_path()
    if not path.is_file():
        raise InvalidInputError(f"handling specs file {str(path)!r} does not exist; pass a JSONL file with one spec a line")
    specs: dict[str, HandlingSpec] = {}
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        spec = parse_spec(obj, where=where)
        if spec.code in specs:
            raise InvalidInputError(f"{where}: field 'code' = {spec.code!r} appears twice; keep one spec per code")
        specs[spec.code] = spec
    return specs


def parse_spec(obj: dict[str, Any], *, where: str = "handling spec") -> HandlingSpec:
    """One ``specs.jsonl`` object as a :class:`HandlingSpec`; only ``code`` is required.

    Raises:
        InvalidInputError: naming ``where`` and the offending field.
    """
    code = obj.get("code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidInputError(f"{where}: field 'code' must be a non-empty string, got {code!r}")
    return HandlingSpec(
        code=code.strip(),
        title=_opt_str(obj, "title", where) or "",
        questions=_str_list(obj, "questions", where),
        checks=_str_list(obj, "checks", where),
        causes=[_cause(c, where) for c in _list(obj, "causes", where)],
        ticket_fields=[_ticket_field(t, where) for t in _list(obj, "ticket_fields", where)],
        dispatch_route=_opt_str(obj, "dispatch_route", where),
        reply_hint=_opt_str(obj, "reply_hint", where),
    )


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise InvalidInputError(f"{where}: field {key!r} must be a list, got {v!r}")
    return v


def _str_list(obj: dict[str, Any], key: str, where: str) -> list[str]:
    items = _list(obj, key, where)
    if not all(isinstance(s, str) for s in items):
        raise InvalidInputError(f"{where}: field {key!r} must be a list of strings, got {items!r}")
    return [s for s in items if s.strip()]


def _opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise InvalidInputError(f"{where}: field {key!r} must be a string, got {v!r}")
    return v


def _cause(c: Any, where: str) -> SpecCause:
    if isinstance(c, str):
        return SpecCause(cause=c)
    if not isinstance(c, dict) or not isinstance(c.get("cause"), str):
        raise InvalidInputError(f"{where}: each item of 'causes' must be {{'cause': str, 'how_to_tell': str}}, got {c!r}")
    return SpecCause(cause=c["cause"], how_to_tell=str(c.get("how_to_tell") or ""))


def _ticket_field(t: Any, where: str) -> TicketField:
    if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"].strip():
        raise InvalidInputError(
            f"{where}: each item of 'ticket_fields' must be {{'name': str, 'label': str, 'required': bool}}, got {t!r}"
        )
    return TicketField(name=t["name"], label=str(t.get("label") or t["name"]), required=bool(t.get("required", False)))
