"""Holds the live pipeline and swaps it without downtime: check the build, load and warm the new one, then switch.

A build that is incomplete or corrupt (a missing ``meta.json``, a truncated ``model.joblib``, a format version
this Hotline cannot read, an index file gone) is refused with :class:`ReloadRefusedError`, which names the file
and the fix; the pipeline already serving stays in place. After a switch the old pipeline is dropped and the
garbage collector run, so its models' memory goes back (requests still using it finish first).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError
from hotline.core.settings import Settings
from hotline.pipeline.assist import AssistPipeline

__all__ = ["PipelineHolder", "ReloadRefusedError", "check_build"]

logger = logging.getLogger(__name__)

# files that hold weights or arrays: never legitimately empty
_MODEL_SUFFIXES = frozenset({".joblib", ".npz", ".npy", ".faiss", ".safetensors", ".bin"})
_FIX = "rebuild it with `hotline build` (or point HOTLINE_HOME at a complete build), then reload again"


class ReloadRefusedError(ArtifactError):
    """The build on disk cannot be loaded; the pipeline already serving (if any) keeps serving.

    ``POST /v1/admin/reload`` answers it with 409 (the server is fine, the files are not); at start-up there is
    nothing to keep serving and the app does not start.

    Attributes:
        file: The file (or folder) at fault, as shown to the client: relative to ``HOTLINE_HOME`` when inside it.
        generation: The generation still serving (0: none loaded yet).
    """

    def __init__(self, message: str, *, file: str, generation: int) -> None:
        super().__init__(message)
        self.file = file
        self.generation = generation


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def check_build(classifier_dir: Path, index_dir: Path) -> None:
    """Cheap checks of a build before anything is unpickled: both folders and their ``meta.json`` exist, and
    every JSON / JSONL file in them parses (a build cut short leaves empty or half-written files).

    Raises:
        ArtifactError: naming the first file at fault; its ``filename`` attribute is that file's path.
    """
    for what, folder in (("classifier", classifier_dir), ("index", index_dir)):
        if not folder.is_dir():
            raise _at(folder, f"the {what} folder {folder} does not exist")
        meta = folder / "meta.json"
        if not meta.is_file():
            raise _at(meta, f"{meta} is missing: {folder} is not a complete {what} build")
        for path in sorted(folder.rglob("*.json")) + sorted(folder.rglob("*.jsonl")):
            try:
                if path.suffix == ".jsonl":
                    with path.open(encoding="utf-8") as f:
                        for line in f:
                            if line.strip():
                                json.loads(line)
                else:
                    _read_json(path)
            except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise _at(path, f"{path} is unreadable or truncated ({type(exc).__name__}: {exc})") from None
        for path in sorted(folder.rglob("*")):
            if path.suffix in _MODEL_SUFFIXES and path.is_file() and path.stat().st_size == 0:
                raise _at(path, f"{path} is empty: the build was cut short")


def _at(path: Path, message: str) -> ArtifactError:
    exc = ArtifactError(message)
    exc.filename = str(path)  # type: ignore[attr-defined]
    return exc


def _culprit(exc: BaseException, roots: tuple[Path, ...]) -> Path | None:
    """The file inside ``roots`` that loading failed on: the exception's own ``filename``, else the innermost
    frame of its traceback holding a path to a file there (``joblib.load(filename)``, ``np.load(file)`` …)."""
    named = getattr(exc, "filename", None)
    candidates: list[Any] = [named] if named else []
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        candidates.extend(v for v in frame.f_locals.values() if isinstance(v, (str, os.PathLike)))
    for value in candidates:
        try:
            path = Path(value).resolve()
        except (TypeError, ValueError, OSError):
            continue
        if any(path.is_relative_to(r) for r in roots) and (path.is_file() or not path.exists()) and path.suffix:
            return path
    return _named_in(str(exc), roots)


_PATH_RE = re.compile(r"(/[^\s:;,'\"()]+)")
_FILE_RE = re.compile(r"[\w.-]+\.(?:npz|npy|jsonl|json|joblib|faiss|safetensors|txt)\b")


def _named_in(message: str, roots: tuple[Path, ...]) -> Path | None:
    """The file a loader's message names: a path inside ``roots``, completed by a file name said after a folder
    ("<index> lacks rows.npz" → <index>/rows.npz)."""
    names = _FILE_RE.findall(message)
    for raw in _PATH_RE.findall(message):
        path = Path(raw.rstrip(".")).resolve()
        if not any(path.is_relative_to(r) for r in roots):
            continue
        if path.suffix or path.is_file():
            return path
        return path / names[0] if names and names[0] not in raw else path
    return None


class PipelineHolder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pipeline: AssistPipeline | None = None
        self._reload_lock = threading.Lock()
        self.generation = 0
        self.loaded_from: tuple[Path, Path] | None = None  # (classifier, index) folders of the serving pipeline

    def live_target(self) -> tuple[Path, Path]:
        """The folders the settings' links resolve to now (after a promotion: the new build's)."""
        return self.settings.classifier_dir.resolve(), self.settings.index_dir.resolve()

    @property
    def pipeline(self) -> AssistPipeline | None:
        return self._pipeline

    def load(self) -> AssistPipeline:
        """Load (or reload) from the settings' folders. Requests keep using the old pipeline meanwhile.

        Raises:
            ReloadRefusedError: the build is incomplete or corrupt; the message names the file and the fix,
                and the pipeline already serving stays.
        """
        with self._reload_lock:
            # resolve the links now, so a rebuild during warm-up cannot mix two builds
            classifier_dir = self.settings.classifier_dir.resolve()
            index_dir = self.settings.index_dir.resolve()
            try:
                check_build(classifier_dir, index_dir)
                pipe = AssistPipeline(self.settings, classifier_dir=classifier_dir, index_dir=index_dir)
                pipe.warm_up()
            except Exception as exc:
                raise self._refusal(exc, (classifier_dir, index_dir)) from exc
            old, self._pipeline = self._pipeline, pipe  # one reference assignment: atomic for readers
            self.loaded_from = (classifier_dir, index_dir)
            self.generation += 1
            logger.info("pipeline generation %d ready", self.generation)
        if old is not None:
            del old
            freed = gc.collect()  # the old models hold reference cycles (sklearn, torch): collect them now
            logger.info("previous pipeline released (%d objects collected)", freed)
        return pipe

    def _refusal(self, exc: Exception, roots: tuple[Path, ...]) -> ReloadRefusedError:
        path = _culprit(exc, roots)
        where = path or roots[0].parent
        shown = self._shown(where)
        serving = (f"generation {self.generation} keeps serving" if self._pipeline is not None
                   else "no build is loaded yet")
        if isinstance(exc, ArtifactError):
            problem = str(exc)
        else:
            problem = f"{type(exc).__name__}: {str(exc)[:300] or 'no message'}"
            if path is not None:
                problem = f"{shown} is corrupt or truncated ({problem})"
        logger.error("build refused (%s): %s", where, problem)
        problem = self._relative(problem)
        if path is not None and shown not in problem:
            problem = f"{shown}: {problem}"
        message = f"build refused, {serving}: {problem}; {_FIX}"
        return ReloadRefusedError(message, file=shown, generation=self.generation)

    def _shown(self, path: Path) -> str:
        """``path`` relative to HOTLINE_HOME (or its build folder) when inside it, so replies carry no absolute
        paths of the server."""
        home = self.settings.home.expanduser().resolve()
        try:
            shown = str(path.resolve().relative_to(home))
        except ValueError:
            return path.name
        return "HOTLINE_HOME" if shown == "." else shown

    def _relative(self, text: str) -> str:
        home = str(self.settings.home.expanduser().resolve())
        return text.replace(home + os.sep, "").replace(home, "HOTLINE_HOME")
