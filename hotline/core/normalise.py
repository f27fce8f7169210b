"""Text normalisation: NFKC width folding, traditional → simplified Chinese, whitespace clean-up.

Runs on every utterance of a live call, so the slow part (opencc-python-reimplemented, ~50 µs for a
short sentence) is skipped when the text contains no character that ``t2s`` would change.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["normalise_text", "TextNormaliser"]

_WS_RE = re.compile(r"\s+")
# Zero-width characters survive NFKC and split words for jieba; ASR and copy-paste both produce them.
# Lone UTF-16 surrogates (half of an emoji cut in two, "\\ud83d" in JSON) are not characters at all: they
# cannot be written as UTF-8 and crash jieba's C++ backend. Both carry nothing, so both are dropped.
_DROP_RE = re.compile("[\u200b-\u200d\u2060\ufeff\ud800-\udfff]")

_lock = threading.Lock()
_converter: Any = None
# Characters that make opencc ``t2s`` change a text; None = unknown, always convert.
_trigger_chars: frozenset[str] | None = None


def _load_converter() -> tuple[Any, frozenset[str] | None]:
    """The shared ``t2s`` converter and its trigger characters, built once per process."""
    global _converter, _trigger_chars
    if _converter is not None:
        return _converter, _trigger_chars
    with _lock:
        if _converter is None:
            try:
                import opencc
                from opencc import OpenCC
            except ImportError as exc:  # pragma: no cover - dependency is pinned in pyproject
                raise ImportError(
                    "traditional→simplified conversion needs opencc-python-reimplemented; "
                    "install it with `pip install opencc-python-reimplemented==0.1.7` or pass to_simplified=False"
                ) from exc
            converter = OpenCC("t2s")
            _trigger_chars = _read_trigger_chars(Path(opencc.__file__).parent / "dictionary")
            _converter = converter
    return _converter, _trigger_chars


def _read_trigger_chars(dict_dir: Path) -> frozenset[str] | None:
    """Every character that can start a change under ``t2s`` (its two dictionaries).

    A text sharing no character with this set converts to itself, so conversion can be skipped.
    Returns None (always convert) if the dictionaries are not where opencc 0.1.7 keeps them.
    """
    chars_file, phrases_file = dict_dir / "TSCharacters.txt", dict_dir / "TSPhrases.txt"
    if not (chars_file.is_file() and phrases_file.is_file()):
        return None
    trigger: set[str] = set()
    known: set[str] = set()  # every key of the character table, changed or not (瞭 → "瞭 了")
    with chars_file.open(encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            known.add(key)
            if key != value.split(" ")[0]:
                trigger.add(key)
    with phrases_file.open(encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            # Phrases like 沈默→沉默 or 瞭解→了解 change although no character of theirs changes alone.
            # A phrase matches only if all its characters occur, so one of them is enough as a trigger:
            # prefer a variant character (rare in simplified text) over common ones such as 一 or 不.
            if key != value.split(" ")[0] and trigger.isdisjoint(key):
                trigger.add(next((ch for ch in key if ch in known), key[-1]))
    return frozenset(trigger)


def normalise_text(text: str, *, to_simplified: bool = True) -> str:
    """Normalise one utterance: NFKC, traditional → simplified, collapse whitespace, strip.

    NFKC folds full-width forms to half-width (``１３８`` → ``138``, ``，`` → ``,``); zero-width
    characters and lone UTF-16 surrogates are removed; every whitespace run becomes one space. The result
    always encodes as UTF-8.

    Args:
        text: The utterance.
        to_simplified: Convert traditional characters to simplified (opencc ``t2s``).

    Returns:
        The normalised text (may be empty if ``text`` was blank).

    Raises:
        InvalidInputError: If ``text`` is not a str.

    Example:
        >>> normalise_text("  我的寬帶　斷網了！ＡＢＣ１２３  ")
        '我的宽带 断网了!ABC123'
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be a str, got {type(text).__name__} ({text!r:.50}); pass the utterance as a string"
        )
    out = _DROP_RE.sub("", unicodedata.normalize("NFKC", text))
    if to_simplified:
        converter, trigger = _load_converter()
        if trigger is None or not trigger.isdisjoint(out):
            out = converter.convert(out)
    return _WS_RE.sub(" ", out).strip()


class TextNormaliser:
    """Pipeline stage wrapping :func:`normalise_text`.

    Args:
        to_simplified: Convert traditional characters to simplified Chinese.

    Example:
        >>> norm = TextNormaliser()
        >>> norm.warm_up()
        >>> norm.run(["網絡  很慢", "ｗｉｆｉ斷了"])
        {'texts': ['网络 很慢', 'wifi断了']}
    """

    def __init__(self, *, to_simplified: bool = True) -> None:
        self.to_simplified = to_simplified

    def warm_up(self) -> None:
        """Build the shared ``t2s`` converter so the first utterance is fast. Safe to call twice."""
        if self.to_simplified:
            _load_converter()

    def run(self, texts: list[str]) -> dict[str, list[str]]:
        """Normalise a batch.

        Args:
            texts: Utterances.

        Returns:
            ``{"texts": [normalised, ...]}`` in input order.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        return {"texts": [normalise_text(t, to_simplified=self.to_simplified) for t in texts]}
