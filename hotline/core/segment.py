"""Word segmentation with jieba: a private jieba ``Tokenizer`` plus the telecom user dictionary.

Two interchangeable backends with jieba's API, dictionary and algorithm (DAG + max-probability route + HMM for
unknown words):

- ``jieba_fast_dat`` (default when installed): jieba re-implemented in C++ over a double-array trie, about 10×
  faster on short utterances;
- ``jieba``: the reference pure-Python implementation.

They agree on almost every text but not all (their bundled dictionaries differ slightly), so the backend a
model was trained with is part of its pickle and used again at load time.

The segmenter is pickled inside scikit-learn pipelines (as the TF-IDF analyzer), so the tokenizer is
left out of the pickle and rebuilt lazily from the dictionary paths after loading.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import threading
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path

__all__ = ["JiebaSegmenter", "BACKENDS", "default_backend"]

logger = logging.getLogger(__name__)

# A token made only of punctuation, symbols or underscores (``\W`` is Unicode-aware: 汉字 and digits are \w).
_PUNCT_RE = re.compile(r"[\W_]+")
# A lone UTF-16 surrogate cannot cross into jieba_fast_dat's C++ (no UTF-8 form): it is cut as U+FFFD, a symbol
# token like any other, in both backends, so they agree and the text keeps its length.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

BACKENDS = ("jieba_fast_dat", "jieba")


def default_backend() -> str:
    """The fastest installed backend: ``jieba_fast_dat`` if importable, else ``jieba``."""
    return "jieba_fast_dat" if importlib.util.find_spec("jieba_fast_dat") is not None else "jieba"


class JiebaSegmenter:
    """Chinese word segmentation with a domain user dictionary and a stop-word list.

    Args:
        dict_path: jieba user dictionary (``word [freq] [tag]`` per line); default
            ``data/lexicon/telecom_dict.txt``.
        stopwords_path: One stop word per line; default ``data/lexicon/stopwords.txt``.
        backend: ``"jieba_fast_dat"`` or ``"jieba"``; default: the fastest installed (:func:`default_backend`).

    Example:
        >>> seg = JiebaSegmenter()  # the shipped lexicon; output depends on it
        >>> seg.cut("我想办理携号转网")  # doctest: +SKIP
        ['我', '想', '办理', '携号转网']
        >>> seg.tokens("我想办理携号转网！")  # doctest: +SKIP
        ['想', '办理', '携号转网']
    """

    def __init__(self, *, dict_path: str | Path | None = None, stopwords_path: str | Path | None = None,
                 backend: str | None = None) -> None:
        if backend is not None and backend not in BACKENDS:
            raise InvalidInputError(f"JiebaSegmenter backend must be one of {list(BACKENDS)} or None, got {backend!r}")
        # Paths are resolved in warm_up, so a pickled segmenter with defaults follows the install it is loaded in.
        self.dict_path = dict_path
        self.stopwords_path = stopwords_path
        self.backend = backend or default_backend()  # fixed now, so a pickled model keeps the one it trained with
        self._lock = threading.Lock()
        self.tokenizer_: Any = None
        self.stopwords_: frozenset[str] = frozenset()

    # -- loading --------------------------------------------------------------------------------
    def _resolved_paths(self) -> tuple[Path, Path]:
        dict_path = Path(self.dict_path) if self.dict_path is not None else data_path("lexicon", "telecom_dict.txt")
        stop_path = (
            Path(self.stopwords_path) if self.stopwords_path is not None else data_path("lexicon", "stopwords.txt")
        )
        return dict_path, stop_path

    def warm_up(self) -> None:
        """Build the tokenizer, load the user dictionary and stop words. Safe to call twice.

        Raises:
            ArtifactError: If the dictionary or stop-word file does not exist.
        """
        if self.tokenizer_ is not None:
            return
        with self._lock:
            if self.tokenizer_ is not None:
                return
            dict_path, stop_path = self._resolved_paths()
            for name, path in (("dict_path", dict_path), ("stopwords_path", stop_path)):
                if not path.is_file():
                    raise ArtifactError(
                        f"JiebaSegmenter {name} not found: {path}; create it (one entry per line, UTF-8) "
                        f"or pass {name}= pointing to an existing file"
                    )
            tokenizer = self._new_tokenizer()
            tokenizer.initialize()  # build the prefix dict now, not on the first cut
            try:
                tokenizer.load_userdict(str(dict_path))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ArtifactError(
                    f"jieba user dictionary {dict_path} is malformed ({exc}); "
                    "each line must be 'word [freq] [tag]' in UTF-8"
                ) from exc
            with stop_path.open(encoding="utf-8") as f:
                stopwords = frozenset(w for w in (line.strip().lower() for line in f) if w and not w.startswith("#"))
            self.stopwords_ = stopwords
            self.tokenizer_ = tokenizer  # last: other threads test this to skip the lock
            logger.debug("JiebaSegmenter ready: %s, %d stop words", dict_path, len(stopwords))

    def _new_tokenizer(self) -> Any:
        try:
            module = importlib.import_module(self.backend)
        except ImportError:
            if self.backend == "jieba":
                raise ArtifactError("JiebaSegmenter needs jieba: pip install jieba") from None
            logger.warning("segmenter backend %r is not installed; using 'jieba' (a few words may be cut differently "
                           "from training; pip install jieba-fast-dat to match)", self.backend)
            self.backend = "jieba"
            module = importlib.import_module("jieba")
        module.setLogLevel(logging.WARNING)  # jieba logs the prefix-dict build at DEBUG to stderr
        return module.Tokenizer()

    # -- segmentation ---------------------------------------------------------------------------
    def cut(self, text: str) -> list[str]:
        """Segment one text into words (HMM on for unknown words); loads lazily on first use.

        Args:
            text: The text; whitespace and punctuation come back as their own tokens (a lone surrogate
                as U+FFFD).

        Returns:
            Words in order.
        """
        if not isinstance(text, str):
            raise InvalidInputError(
                f"text must be a str, got {type(text).__name__} ({text!r:.50}); pass the utterance as a string"
            )
        if self.tokenizer_ is None:
            self.warm_up()
        return self.tokenizer_.lcut(_SURROGATE_RE.sub("\ufffd", text), HMM=True)

    def tokens(self, text: str) -> list[str]:
        """Words for features: lower-cased, without whitespace, punctuation and stop words.

        Args:
            text: The text.

        Returns:
            Content tokens in order.
        """
        words = self.cut(text)
        stop = self.stopwords_
        out = []
        for w in words:
            w = w.strip().lower()
            if w and w not in stop and not _PUNCT_RE.fullmatch(w):
                out.append(w)
        return out

    def run(self, texts: list[str]) -> dict[str, list[list[str]]]:
        """Tokens for a batch.

        Args:
            texts: Utterances.

        Returns:
            ``{"tokens": [[token, ...], ...]}`` in input order.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        return {"tokens": [self.tokens(t) for t in texts]}

    # -- pickling -------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # The tokenizer holds a large prefix dict and the lock cannot be pickled; both are rebuilt.
        return {"dict_path": self.dict_path, "stopwords_path": self.stopwords_path, "backend": self.backend}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickles from before backends existed were trained with the reference jieba
        self.__init__(**{"backend": "jieba", **state})  # type: ignore[misc]

    def __repr__(self) -> str:
        return (f"JiebaSegmenter(dict_path={self.dict_path!r}, stopwords_path={self.stopwords_path!r}, "
                f"backend={self.backend!r})")
