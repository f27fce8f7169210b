"""Knowledge-base entries in and out of the store: body validation, JSONL import (FAQ, specs, knowledge-gap
drafts from ``hotline analyze``) and export.

A FAQ body is a ``faq.jsonl`` line (``id``, ``question``, ``answer``, optional ``category``, ``similar`` and
``source``: where a draft came from); a spec body is a ``specs.jsonl`` line (``code`` plus optional fields). A
draft may lack its answer; review (``strict``) needs everything :func:`~hotline.index.kb.parse_faq` needs.

Example:
    >>> validate_body(KbKind.FAQ, {"id": "kb-9", "question": " 副卡怎么办 ", "answer": ""}, False)["question"]
    '副卡怎么办'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hotline.core.errors import ConflictError, InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.index.kb import parse_faq, parse_spec
from hotline.store.kb import KbKind, KbRepo, KbState

__all__ = ["validate_body", "read_kb_file", "gap_draft", "import_entries", "kind_of"]

_MAX_TEXT = 4000  # characters of one question, answer or paraphrase
_MAX_SIMILAR = 50


def validate_body(kind: KbKind, body: dict[str, Any], strict: bool) -> dict[str, Any]:
    """The clean body of a FAQ or spec (the :data:`~hotline.store.kb.Validator` the store is given).

    Raises:
        InvalidInputError: naming the field and the fix.
    """
    kind = KbKind.parse(kind)
    where = f"{kind.value} {body.get(kind.key)!r}"
    if kind is KbKind.SPEC:
        return parse_spec(body, where=where).to_dict()
    answer = body.get("answer")
    if not strict and (answer is None or (isinstance(answer, str) and not answer.strip())):
        answer = ""  # a draft (e.g. a knowledge gap) is written before anyone has the answer
        entry = parse_faq({**body, "answer": "-"}, where=where)
        entry.answer = ""
    else:
        if not isinstance(answer, str) or not answer.strip():
            raise InvalidInputError(f"{where}: field 'answer' must be a non-empty string before review, got "
                                    f"{answer!r:.40}; write the answer into the draft, then submit it")
        entry = parse_faq(body, where=where)
    for name, text in [("question", entry.question), ("answer", entry.answer), *(("similar", s) for s in entry.similar)]:
        if len(text) > _MAX_TEXT:
            raise InvalidInputError(f"{where}: field {name!r} is {len(text)} characters; at most {_MAX_TEXT}")
    if len(entry.similar) > _MAX_SIMILAR:
        raise InvalidInputError(f"{where}: field 'similar' has {len(entry.similar)} items; at most {_MAX_SIMILAR}")
    out = entry.to_dict()
    source = body.get("source")
    if source is not None:
        if not isinstance(source, dict):
            raise InvalidInputError(f"{where}: field 'source' must be an object (where the draft came from), "
                                    f"got {source!r:.40}")
        out["source"] = source
    return out


def kind_of(obj: dict[str, Any], *, where: str) -> KbKind:
    """A line's kind: an explicit ``kind``, else FAQ when it has a ``question``, spec when it has a ``code``."""
    if "kind" in obj:
        return KbKind.parse(obj["kind"])
    if "question" in obj:
        return KbKind.FAQ
    if "code" in obj:
        return KbKind.SPEC
    raise InvalidInputError(f"{where}: neither a FAQ (needs 'id', 'question', 'answer') nor a handling spec "
                            f"(needs 'code'); add the fields or a \"kind\": \"faq\"|\"spec\"")


def gap_draft(record: dict[str, Any], *, where: str = "gap") -> dict[str, Any]:
    """A FAQ draft from one ``gaps.jsonl`` record of ``hotline analyze`` (its representative question, the
    other example questions as paraphrases, the likely category; the answer is left for the author).

    The id is a hash of the question, so importing the same gap twice finds the draft already there.
    """
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError(f"{where}: a knowledge gap needs its 'question', got {question!r:.40}; pass the "
                                f"gaps.jsonl written by `hotline analyze`")
    question = question.strip()
    examples = [e.strip() for e in record.get("examples") or [] if isinstance(e, str) and e.strip()]
    category = record.get("category")
    return {"id": "gap-" + hashlib.sha1(question.encode("utf-8")).hexdigest()[:10], "question": question,
            "answer": "", "category": category if isinstance(category, str) else None,
            "similar": [e for e in dict.fromkeys(examples) if e != question][:_MAX_SIMILAR],
            "source": {"kind": "knowledge_gap", "gap": record.get("id"), "count": record.get("count"),
                       "estimated_total": record.get("estimated_total"),
                       "example_call_ids": list(record.get("example_call_ids") or [])[:10]}}


def read_kb_file(path: str | Path, *, gaps: bool = False) -> list[tuple[KbKind, dict[str, Any]]]:
    """``(kind, body)`` per line of a FAQ / spec JSONL (kinds may be mixed), or of ``gaps.jsonl`` (``gaps``)."""
    out: list[tuple[KbKind, dict[str, Any]]] = []
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        if gaps:
            out.append((KbKind.FAQ, gap_draft(obj, where=where)))
        else:
            kind = kind_of(obj, where=where)
            out.append((kind, {k: v for k, v in obj.items() if k != "kind"}))
    if not out:
        raise InvalidInputError(f"{path} holds no entries; pass a JSONL file with one FAQ or spec a line")
    return out


def import_entries(repo: KbRepo, items: Iterable[tuple[KbKind, dict[str, Any]]], *, actor: str,
                   approve: bool = False, note: str | None = None) -> dict[str, Any]:
    """Store each body as a draft: a new entry, or a new version of an existing one whose body differs.

    Entries whose newest version has the same body, or which are in review or approved, are skipped (with the
    reason). ``approve``: each stored draft is also submitted and approved by ``actor`` (an operator importing
    reviewed content; the caller publishes them).
    """
    created, updated, skipped = [], [], []
    for kind, body in items:
        clean = validate_body(kind, body, strict=approve)
        entry_id = clean[kind.key]
        ref = f"{kind.value}/{entry_id}"
        try:
            versions = repo.history(kind, entry_id)
        except LookupError:
            versions = []
        try:
            if not versions:
                repo.create(kind, clean, actor=actor, note=note)
                created.append(ref)
            else:
                latest = versions[-1]
                if latest.body == clean and latest.state not in (KbState.SUPERSEDED, KbState.RETIRED):
                    skipped.append({"entry": ref, "reason": f"unchanged (v{latest.version} {latest.state.value})"})
                    continue
                if latest.state in (KbState.REVIEW, KbState.APPROVED):
                    skipped.append({"entry": ref, "reason": f"v{latest.version} is {latest.state.value}; reject it "
                                                            f"before importing a new version"})
                    continue
                repo.edit(kind, entry_id, clean, actor=actor, note=note)
                updated.append(ref)
        except ConflictError as exc:  # someone else moved it meanwhile
            skipped.append({"entry": ref, "reason": str(exc)})
            continue
        if approve:
            repo.submit(kind, entry_id, actor=actor, note=note)
            repo.approve(kind, entry_id, actor=actor, note=note)
    return {"created": created, "updated": updated, "skipped": skipped}
