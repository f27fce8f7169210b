"""Callers as keyed hashes: the same phone gives the same 32-hex pseudonym, which reveals nothing without the key.

A plain hash of a phone number is reversible by trying all 10^10 numbers; an HMAC-SHA256 under a secret key
(``HOTLINE_REPEAT_KEY``, else ``<home>/repeat.key``, made on first use) is not. The live server stores this
pseudonym with every ended call and batch analysis computes the same one from recorded calls, so repeat callers
are found across both without a raw number ever being kept.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from hotline.core.errors import ArtifactError
from hotline.core.numerals import CAPITAL_DIGITS, SPOKEN_DIGITS, read_digits
from hotline.core.settings import Settings

__all__ = ["caller_key", "load_repeat_key", "REPEAT_KEY_FILE", "CALLER_HASH_PATTERN"]

logger = logging.getLogger(__name__)

CALLER_HASH_PATTERN = r"^[0-9a-f]{32}$"

REPEAT_KEY_FILE = "repeat.key"
_KEY_BYTES = 32
_NOT_DIGIT_RE = re.compile(f"[^0-9０-９{SPOKEN_DIGITS}{CAPITAL_DIGITS}]")


def load_repeat_key(settings: Settings) -> bytes:
    """The HMAC key for caller hashes: ``settings.repeat_key`` (``HOTLINE_REPEAT_KEY``), else the key file in
    the home, created (32 random bytes, mode 0600) on first use — atomically, so parallel workers agree.

    Raises:
        ArtifactError: the key is shorter than 16 bytes, or the key file cannot be read or written.
    """
    if settings.repeat_key is not None:
        key = settings.repeat_key.get_secret_value().encode("utf-8")
        if len(key) < 16:
            raise ArtifactError(f"HOTLINE_REPEAT_KEY is {len(key)} bytes; use at least 16 random characters "
                                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return key
    path = Path(settings.home).expanduser() / REPEAT_KEY_FILE
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{REPEAT_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(_KEY_BYTES) + "\n")
            try:
                os.link(tmp, path)  # atomic, and fails when another process made the key first: theirs wins
                logger.info("made the repeat-caller key %s (keep it: caller hashes depend on it)", path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        key = path.read_text(encoding="ascii").strip().encode("ascii")
    except OSError as e:
        raise ArtifactError(f"cannot read or create the repeat-caller key {path}: {e}; set HOTLINE_REPEAT_KEY "
                            "or make the home writable") from e
    if len(key) < 16:
        raise ArtifactError(f"the repeat-caller key {path} is {len(key)} bytes; delete it to make a new one")
    return key


def caller_key(phone: str | None, key: bytes) -> str | None:
    """The keyed hash of a phone number (32 hex characters), or None when ``phone`` holds no number.

    Digits are read as said (幺三八 → 138); a ``+86`` / ``0086`` prefix is dropped, so the CRM's
    ``+86 138 1234 5678`` and the caller's 13812345678 are one caller.

    Example:
        >>> caller_key("+86 138 1234 5678", b"k" * 32) == caller_key("13812345678", b"k" * 32)
        True
        >>> caller_key("138****5678", b"k" * 32) is None  # a masked number identifies no one
        True
    """
    if not phone or "*" in phone:
        return None
    said = _NOT_DIGIT_RE.sub("", str(phone))
    digits = read_digits(said) if said else ""
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix):]
    if len(digits) < 7:
        return None
    return hmac.new(key, b"phone:" + digits.encode("ascii"), hashlib.sha256).hexdigest()[:32]
