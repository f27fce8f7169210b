"""Input checks shared by the API and the CLI, so both reject bad text with the same message.

Each check names the field, shows (a short excerpt of) the bad value and says how to fix it:
not a string, blank, too long, binary/control characters, wrong encoding (U+FFFD or UTF-8 bytes
decoded as Latin-1/cp1252/GBK), or no Chinese character at all. Call ids (:func:`check_call_id`) are
checked here too, so the live-call engine, ``hotline replay`` and the API schema agree on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["check_text", "check_batch", "check_call_id", "check_turns", "CALL_ID_PATTERN"]

_MAX_CALL_ID = 64
# the API schema uses the same pattern (with the length), so both reject the same ids
CALL_ID_PATTERN = rf"^[A-Za-z0-9_.:\-]{{1,{_MAX_CALL_ID}}}$"
_CALL_ID_RE = re.compile(CALL_ID_PATTERN)
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# C0 controls except \t \n \r, and DEL: what binary data looks like after a lenient decode.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_C1_RE = re.compile("[\x80-\x9f]")
# UTF-8 of CJK is 3 bytes, E0–EF then two continuation bytes 80–BF. Decoded as Latin-1 or cp1252 the
# lead byte becomes à–ï and each continuation byte a C1 control, a Latin-1 sign or a cp1252 symbol
# (æˆ‘ is 我): three such characters in a row are mojibake.
_CP1252_CONT = "".join(
    bytes([b]).decode("cp1252") for b in range(0x80, 0xC0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
)
_LATIN_MOJIBAKE_RE = re.compile(f"[\u00e0-\u00ef][\x80-\xbf{re.escape(_CP1252_CONT)}]{{2}}")
# UTF-8 decoded as GBK (鎴戠殑 for 我的) re-encodes to valid UTF-8; real Chinese in GBK almost never does.
_GBK_MIN_HAN = 2
_GBK_MIN_SHARE = 0.4
# GBK's signature of a lost character: U+FFFD written as UTF-8, then read as GBK.
_GBK_REPLACEMENT = "锟斤拷"


def _excerpt(text: str, pos: int = 0, width: int = 20) -> str:
    """A short repr of ``text`` around ``pos`` for error messages (never echo a whole long text)."""
    start = max(0, pos - width // 2)
    snippet = text[start : start + width]
    return ("…" if start else "") + repr(snippet) + ("…" if start + width < len(text) else "")


def _repair_latin(text: str) -> str:
    """Best-effort undo of UTF-8 read as Latin-1 (C1 controls kept) or cp1252 (symbols like ˆ ‘)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode("cp1252", errors="ignore")
    return raw.decode("utf-8", errors="replace")


def _gbk_mojibake(text: str, n_han: int) -> str | None:
    """The repaired text if ``text`` looks like UTF-8 bytes decoded as GBK, else None."""
    if n_han < _GBK_MIN_HAN:
        return None
    repaired = text.encode("gbk", errors="ignore").decode("utf-8", errors="replace")
    n_repaired = len(_HAN_RE.findall(repaired))
    if n_repaired >= _GBK_MIN_HAN and n_repaired >= _GBK_MIN_SHARE * n_han:
        return repaired
    return None


def check_text(text: object, *, max_chars: int = 2000, field: str = "text") -> str:
    """Check one utterance and return it stripped.

    Args:
        text: The value received.
        max_chars: Longest accepted text (after stripping), in characters.
        field: Name used in error messages, e.g. ``"texts[3]"``.

    Returns:
        ``text`` without leading/trailing whitespace.

    Raises:
        InvalidInputError: If the text is not a str, blank, longer than ``max_chars``, contains
            control characters, was decoded with the wrong encoding, or has no Chinese character.

    Example:
        >>> check_text("  我的宽带断网了  ")
        '我的宽带断网了'
        >>> check_text("hello")
        Traceback (most recent call last):
        ...
        hotline.core.errors.InvalidInputError: text has no Chinese character: 'hello'; Hotline expects Chinese (Mandarin) text ...
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"{field} must be a str, got {type(text).__name__} ({text!r:.50}); send the utterance as a JSON string"
        )
    if max_chars <= 0:
        raise InvalidInputError(f"max_chars must be > 0, got {max_chars}")
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError(
            f"{field} is empty or blank ({text!r:.30}); send at least one Chinese sentence"
        )
    if len(stripped) > max_chars:
        raise InvalidInputError(
            f"{field} is too long: {len(stripped)} characters, the limit is {max_chars} "
            "(HOTLINE_MAX_TEXT_CHARS); split it into shorter utterances"
        )
    m = _CONTROL_RE.search(stripped)
    if m:
        raise InvalidInputError(
            f"{field} contains control character {m.group()!r} at position {m.start()} "
            f"({_excerpt(stripped, m.start())}); this looks like binary data - send plain UTF-8 text"
        )
    pos = stripped.find("\ufffd")
    if pos >= 0:
        raise InvalidInputError(
            f"{field} contains the replacement character U+FFFD at position {pos} ({_excerpt(stripped, pos)}); "
            "the text was decoded with the wrong encoding - send it as UTF-8"
        )
    m = _LATIN_MOJIBAKE_RE.search(stripped)
    if m:
        repaired = _repair_latin(stripped)
        raise InvalidInputError(
            f"{field} looks like UTF-8 decoded as Latin-1/cp1252 (mojibake {m.group()!r} at position {m.start()}, "
            f"probably {repaired[:20]!r}); decode the bytes as UTF-8 before sending"
        )
    pos = stripped.find(_GBK_REPLACEMENT)
    if pos >= 0:
        raise InvalidInputError(
            f"{field} contains {_GBK_REPLACEMENT!r} at position {pos}, the trace of characters lost in a "
            "UTF-8/GBK round trip; re-export the text as UTF-8 from the source"
        )
    m = _C1_RE.search(stripped)
    if m:
        raise InvalidInputError(
            f"{field} contains control character {m.group()!r} at position {m.start()} "
            f"({_excerpt(stripped, m.start())}); this looks like binary data or a wrong encoding - send plain UTF-8 text"
        )
    n_han = len(_HAN_RE.findall(stripped))
    if n_han == 0:
        raise InvalidInputError(
            f"{field} has no Chinese character: {_excerpt(stripped)}; Hotline expects Chinese (Mandarin) text "
            "from the call - check the ASR language setting"
        )
    repaired = _gbk_mojibake(stripped, n_han)
    if repaired is not None:
        raise InvalidInputError(
            f"{field} looks like UTF-8 decoded as GBK ({_excerpt(stripped)}, probably {repaired[:20]!r}); "
            "decode the bytes as UTF-8 before sending"
        )
    return stripped


def check_batch(texts: object, *, max_batch: int = 64, max_chars: int = 2000) -> list[str]:
    """Check a batch of utterances and return them stripped.

    Args:
        texts: The value received; must be a non-empty list (or tuple) of str.
        max_batch: Most texts accepted in one call.
        max_chars: Longest accepted text, see :func:`check_text`.

    Returns:
        The stripped texts, in order.

    Raises:
        InvalidInputError: If ``texts`` is not a list, is empty or too long, or any text fails
            :func:`check_text` (the message names it as ``texts[i]``).

    Example:
        >>> check_batch(["话费不对 ", "宽带断了"])
        ['话费不对', '宽带断了']
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise InvalidInputError(
            f"texts must be a list of str, got {type(texts).__name__} ({texts!r:.50}); "
            "wrap a single utterance as [text]"
        )
    if max_batch <= 0:
        raise InvalidInputError(f"max_batch must be > 0, got {max_batch}")
    if not texts:
        raise InvalidInputError("texts is an empty list; send at least one utterance")
    if len(texts) > max_batch:
        raise InvalidInputError(
            f"texts has {len(texts)} items, the limit is {max_batch} (HOTLINE_MAX_BATCH); "
            "split the request into smaller batches"
        )
    return [check_text(t, max_chars=max_chars, field=f"texts[{i}]") for i, t in enumerate(texts)]


def check_call_id(call_id: object) -> str:
    """Check a live call's id: 1-64 ASCII letters, digits or ``_.:-``; returns it unchanged.

    Raises:
        InvalidInputError: If the id is not a str or breaks those rules.

    Example:
        >>> check_call_id("c-20240501-0001")
        'c-20240501-0001'
    """
    if not isinstance(call_id, str) or not _CALL_ID_RE.fullmatch(call_id):  # fullmatch: no trailing "\n"
        raise InvalidInputError(
            f"call_id must be 1-{_MAX_CALL_ID} characters of letters, digits and _.:-, got {call_id!r:.80}"
        )
    return call_id


def check_turns(turns: Any, where: str, *, max_chars: int = 2000, max_turns: int | None = None
                ) -> list[dict[str, str]]:
    """A recorded call's ``turns`` (``hotline replay`` and ``hotline analyze`` input) as clean
    ``[{"speaker", "text"}]``: a non-empty list (at most ``max_turns``) of objects whose ``speaker`` is
    ``agent`` or ``customer`` and whose ``text`` is a non-blank string of at most ``max_chars`` characters
    without control characters. Errors start with ``where`` (``file:line``) and name the field.
    """
    if not isinstance(turns, list) or not turns:
        raise InvalidInputError(f"{where}: field 'turns' must be a non-empty list of {{'speaker', 'text'}} objects, "
                                f"got {turns!r:.80}")
    if max_turns is not None and len(turns) > max_turns:
        raise InvalidInputError(f"{where}: field 'turns' has {len(turns)} turns, the limit is {max_turns} "
                                "(HOTLINE_MAX_TURNS_PER_CALL); split the call or raise the limit")
    clean = []
    for i, t in enumerate(turns):
        if not isinstance(t, dict):
            raise InvalidInputError(f"{where}: field 'turns[{i}]' must be an object with 'speaker' and 'text'")
        sp = t.get("speaker")
        if sp not in ("agent", "customer"):
            raise InvalidInputError(f"{where}: field 'turns[{i}].speaker' must be 'agent' or 'customer', got {sp!r:.40}")
        text = t.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{where}: field 'turns[{i}].text' must be a non-empty string, got {text!r:.40}")
        if len(text) > max_chars:
            raise InvalidInputError(f"{where}: field 'turns[{i}].text' is {len(text)} characters, the limit is "
                                    f"{max_chars} (HOTLINE_MAX_TEXT_CHARS)")
        if _CONTROL_RE.search(text):
            raise InvalidInputError(f"{where}: field 'turns[{i}].text' contains control characters; send plain UTF-8 text")
        clean.append({"speaker": sp, "text": text})
    return clean
