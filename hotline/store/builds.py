"""The build registry: immutable build folders, one ``current`` pointer, promotion and rollback.

A build is a folder ``<home>/builds/<id>/`` (``id``: the UTC time it was made, ``20261201T141500123456Z``) with
``classifier/`` (its scope, call and no-answer models inside), ``index/`` and a manifest ``build.json`` (id,
created_at, parent, source, metrics, gate report, data fingerprints). ``<home>/current`` links to the live build;
``<home>/classifier`` and ``<home>/index`` link *through* it (``current/classifier``, ``current/index``), so one
atomic rename of ``current`` switches classifier and index together, and a server that resolves both links never
sees a mix of two builds. Running servers poll the resolved links and load the new build in the background
(``serve/app.py``), so every worker and replica that shares the home follows a promotion without dropping requests.

Every switch is appended to ``<home>/builds/history.jsonl`` (who, when, from which build, forced or not); rollback
walks that history back to the build that was live before.

Example:
    >>> reg = BuildRegistry(Settings(home="/tmp/hl"))  # doctest: +SKIP
    >>> reg.promote(reg.list()[1].id, actor="ops")  # doctest: +SKIP
    >>> reg.rollback().id  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hotline.core.errors import ArtifactError, ConflictError, InvalidInputError
from hotline.core.settings import Settings

__all__ = ["BuildRegistry", "BuildInfo", "BuildLockedError", "MANIFEST", "switch_link"]

MANIFEST = "build.json"
_HISTORY = "history.jsonl"
_PARTS = ("classifier", "index")


class BuildLockedError(ConflictError):
    """Another job holds the registry lock (one retrain or publish at a time)."""


class BuildInfo(BaseModel):
    """One build as the registry lists it."""

    id: str
    path: str
    created_at: str | None = None
    parent: str | None = None
    source: str | None = Field(default=None, description="what made it: build, retrain, kb-publish, kb-rollback …")
    current: bool = False
    metrics: dict[str, Any] = Field(default_factory=dict, description="key metrics per check set")
    gate: dict[str, Any] | None = None
    forced: bool = False
    note: str | None = None


def switch_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (rename of a fresh relative symlink over the old one)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} is a real folder, not a link Hotline manages; move it away and rebuild")
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S%fZ")


class BuildRegistry:
    """The builds under ``<home>/builds`` and which one is live.

    Args:
        settings: Hotline settings; only ``home`` is used.
    """

    def __init__(self, settings: Settings) -> None:
        self.home = settings.home.expanduser()
        self.root = self.home / "builds"
        self.current_link = self.home / "current"

    # -- reading -----------------------------------------------------------------------------
    def current_id(self) -> str | None:
        """The live build's id: the ``current`` link's target, or (a home made before the registry) the build the
        ``classifier`` link points into. ``None`` when nothing is built or the folders are not managed links."""
        if self.current_link.is_symlink():
            return self.current_link.resolve().name
        link = self.home / "classifier"
        if link.is_symlink():
            target = link.resolve()
            if target.parent.parent == self.root.resolve():
                return target.parent.name
        return None

    def _dir(self, build_id: str) -> Path:
        if not isinstance(build_id, str) or not build_id or "/" in build_id or build_id.startswith("."):
            raise InvalidInputError(f"build id must be a folder name under {self.root}, got {build_id!r}")
        path = self.root / build_id
        if not path.is_dir():
            known = [b.id for b in self.list()][:10]
            raise InvalidInputError(
                f"no build {build_id!r} in {self.root}; known builds (newest first): {known or 'none'}. "
                "List them with `hotline models list`."
            )
        return path

    def manifest(self, build_id: str) -> dict[str, Any]:
        """The whole ``build.json`` of a build (``{}`` parts filled from the folder for builds that lack one)."""
        path = self._dir(build_id) / MANIFEST
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ArtifactError(f"{path} is unreadable ({exc}); the build is damaged, remove it") from None
        data.setdefault("id", build_id)
        data.setdefault("created_at", self._created_from_id(build_id))
        return data

    @staticmethod
    def _created_from_id(build_id: str) -> str | None:
        try:
            return datetime.strptime(build_id, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc).isoformat(
                timespec="seconds")
        except ValueError:
            return None

    def _info(self, build_id: str, current: str | None) -> BuildInfo:
        m = self.manifest(build_id)
        return BuildInfo(id=build_id, path=str(self.root / build_id), created_at=m.get("created_at"),
                         parent=m.get("parent"), source=m.get("source") or "build", current=build_id == current,
                         metrics=m.get("metrics") or _metrics_from_summary(m), gate=m.get("gate"),
                         forced=bool(m.get("forced")), note=m.get("note"))

    def get(self, build_id: str) -> BuildInfo:
        self._dir(build_id)
        return self._info(build_id, self.current_id())

    def list(self) -> list[BuildInfo]:
        """Every build folder that holds a classifier or an index, newest first."""
        if not self.root.is_dir():
            return []
        current = self.current_id()
        ids = sorted((p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and any((p / part).is_dir() for part in _PARTS)),
                     reverse=True)
        return [self._info(i, current) for i in ids]

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback, oldest first."""
        path = self.root / _HISTORY
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a crash mid-append: the switch itself is the link, not this line
        return out

    # -- writing -----------------------------------------------------------------------------
    def create(self, *, source: str, parent: str | None | type[...] = ..., **fields: Any) -> Path:
        """A new, empty build folder with its manifest (``parent`` defaults to the live build)."""
        t = _now()
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            build_id = _stamp(t)
            try:
                (self.root / build_id).mkdir()
                break
            except FileExistsError:  # two builds in one microsecond: take the next one
                t = t.replace(microsecond=(t.microsecond + 1) % 1_000_000)
        parent_id = self.current_id() if parent is ... else parent
        manifest = {"id": build_id, "created_at": t.isoformat(timespec="seconds"), "parent": parent_id,
                    "source": source, **fields}
        self._write_manifest(self.root / build_id, manifest)
        return self.root / build_id

    def derive(self, *, source: str, keep: tuple[str, ...] = ("classifier",), **fields: Any) -> Path:
        """A new build whose ``keep`` parts are hard-linked copies of the live build's (files are never changed in
        place, so sharing them is safe); the caller writes the rest (e.g. a new ``index/``)."""
        current = self.current_id()
        if current is None:
            raise ArtifactError(f"no live build in {self.home} to derive from; run `hotline build` first")
        src = self.root / current
        out = self.create(source=source, parent=current, **fields)
        for part in keep:
            if not (src / part).is_dir():
                raise ArtifactError(f"the live build {current} has no {part}/ to keep; rebuild it with `hotline build`")
            shutil.copytree(src / part, out / part, copy_function=_link_or_copy, symlinks=True)
        return out

    def update(self, build_id: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into a build's manifest and return it."""
        path = self._dir(build_id)
        manifest = {**self.manifest(build_id), **fields}
        self._write_manifest(path, manifest)
        return manifest

    @staticmethod
    def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
        tmp = folder / f".{MANIFEST}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)

    def promote(self, build_id: str, *, actor: str | None = None, forced: bool = False,
                reason: str | None = None, action: str = "promote") -> BuildInfo:
        """Make ``build_id`` the live build: one atomic rename of ``<home>/current``.

        Raises:
            InvalidInputError: unknown build id.
            ArtifactError: the build lacks a classifier or index with its ``meta.json`` (a build cut short).
        """
        path = self._dir(build_id)
        for part in _PARTS:
            if not (path / part / "meta.json").is_file():
                raise ArtifactError(f"build {build_id} is incomplete: {part}/meta.json is missing; it cannot go "
                                    "live. Rebuild it (`hotline build` or `hotline retrain`)")
        previous = self.current_id()
        self._adopt()
        switch_link(self.current_link, path)
        if forced:
            self.update(build_id, forced=True, forced_reason=reason)
        entry = {"at": _now().isoformat(timespec="seconds"), "action": action, "build": build_id,
                 "previous": previous, "actor": actor, "forced": forced, "reason": reason}
        with (self.root / _HISTORY).open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return self.get(build_id)

    def rollback(self, to: str | None = None, *, actor: str | None = None) -> BuildInfo:
        """Go back to ``to``, or to the build that was live before the current one.

        Raises:
            InvalidInputError: nothing to roll back to (one build only ever went live), or an unknown ``to``.
        """
        current = self.current_id()
        if to is None:
            to = self._previous(current)
            if to is None:
                raise InvalidInputError(
                    f"nothing to roll back to: build {current} is the first that went live in {self.home}. "
                    "Name one with `hotline models rollback --to ID` (see `hotline models list`)")
        if to == current:
            raise InvalidInputError(f"build {to} is already live; nothing to roll back")
        return self.promote(to, actor=actor, action="rollback", reason=f"rollback from {current}")

    def _previous(self, current: str | None) -> str | None:
        """The build live before ``current``: the ``previous`` of the switch that made ``current`` live, skipping
        builds since deleted."""
        for entry in reversed(self.history()):
            if entry.get("build") == current:
                prev = entry.get("previous")
                if prev and prev != current and (self.root / prev / "classifier").is_dir():
                    return prev
                return None
        # no history (a home made before the registry): the newest complete build older than the current one
        older = [b.id for b in self.list() if current is None or b.id < current]
        return older[0] if older else None

    def _adopt(self) -> None:
        """Turn a home whose ``classifier``/``index`` links point straight into a build into the registry's layout:
        both links go through ``current``. A real folder there is left alone and refused with the fix."""
        for part in _PARTS:
            link = self.home / part
            want = Path("current") / part
            if link.is_symlink() and Path(os.readlink(link)) == want:
                continue
            if link.exists() and not link.is_symlink():
                raise ArtifactError(
                    f"{link} is a real folder, not a link the registry manages; move it into a build with "
                    f"`hotline build` (or remove it) before promoting")
            if not self.current_link.is_symlink():
                # keep serving what is live now while the links are rewritten
                live = self.current_id()
                if live is not None:
                    switch_link(self.current_link, self.root / live)
            tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(want, tmp)
            os.replace(tmp, link)

    @contextmanager
    def lock(self, name: str = "retrain") -> Iterator[None]:
        """Hold ``<home>/builds/.<name>.lock`` for one job; a second job gets :class:`BuildLockedError` at once."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / f".{name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise BuildLockedError(
                f"another {name} job is running in {self.home} (lock {self.root / f'.{name}.lock'}); wait for it "
                "to finish — one job at a time") from None
        try:
            yield
        finally:
            lock.release()


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copy2(src, dst)


def _metrics_from_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """Key metrics from a ``hotline build`` summary: accuracy per check set of the classifier."""
    metrics = (manifest.get("classifier") or {}).get("metrics") or {}
    return {name: {k: m[k] for k in ("accuracy", "macro_f1") if k in m}
            for name, m in metrics.items() if isinstance(m, dict)}
