"""Follow the live build: every worker polls ``<home>/current`` and loads a newly promoted build in the background.

``hotline models promote|rollback``, ``hotline retrain`` and a knowledge-base publish switch one link
(:mod:`hotline.store.builds`). Each server process (every uvicorn worker, every replica sharing the home) notices
within ``HOTLINE_BUILD_POLL_S`` and loads the new build in a thread; requests keep using the old pipeline until
the new one is warm, then one reference assignment switches them (:class:`~hotline.serve.state.PipelineHolder`).
A build that cannot be loaded is refused once and logged; the old one keeps serving until the link moves again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from hotline.core.settings import Settings
from hotline.serve.state import PipelineHolder, ReloadRefusedError

__all__ = ["BuildWatcher", "install_build_watcher"]

logger = logging.getLogger(__name__)


class BuildWatcher:
    """Polls the holder's live target and reloads when it moved.

    Args:
        holder: The pipeline holder of this process.
        interval_s: Seconds between checks.
    """

    def __init__(self, holder: PipelineHolder, *, interval_s: float = 2.0) -> None:
        self.holder = holder
        self.interval_s = interval_s
        self._refused: tuple[Path, Path] | None = None
        self._task: asyncio.Task | None = None

    def changed(self) -> tuple[Path, Path] | None:
        """The new target when the links moved away from what is serving (and it was not refused already)."""
        try:
            target = self.holder.live_target()
        except OSError:  # a link being replaced right now: look again next time
            return None
        if target == self.holder.loaded_from or target == self._refused:
            return None
        return target

    async def check(self) -> bool:
        """One poll: load the new build if the links moved. True when a new pipeline went live."""
        target = self.changed()
        if target is None:
            return False
        try:
            await asyncio.to_thread(self.holder.load)
        except ReloadRefusedError as exc:
            self._refused = target
            logger.error("the promoted build was refused; %s", exc)
            return False
        self._refused = None
        logger.info("now serving build %s (generation %d)", target[0].parent.name, self.holder.generation)
        return True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # never let the watcher die: the next poll tries again
                logger.exception("build watcher: check failed")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="build-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def install_build_watcher(app: FastAPI, settings: Settings) -> None:
    """Start a watcher after start-up when ``settings.build_poll_s`` > 0."""
    if settings.build_poll_s <= 0:
        return

    async def start(app: FastAPI) -> None:
        app.state.build_watcher = BuildWatcher(app.state.holder, interval_s=settings.build_poll_s)
        app.state.build_watcher.start()

    async def stop(app: FastAPI) -> None:
        watcher = getattr(app.state, "build_watcher", None)
        if watcher is not None:
            await watcher.stop()

    app.state.on_startup.append(start)
    app.state.on_shutdown.insert(0, stop)
