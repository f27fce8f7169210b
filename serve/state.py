"""Holds the live pipeline and swaps it without downtime: build and warm the new one, then switch."""

from __future__ import annotations

import logging
import threading

from hotline.core.settings import Settings
from hotline.pipeline.assist import AssistPipeline

__all__ = ["PipelineHolder"]

logger = logging.getLogger(__name__)


class PipelineHolder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pipeline: AssistPipeline | None = None
        self._reload_lock = threading.Lock()
        self.generation = 0

    @property
    def pipeline(self) -> AssistPipeline | None:
        return self._pipeline

    def load(self) -> AssistPipeline:
        """Load (or reload) from the settings' folders. Requests keep using the old pipeline meanwhile."""
        with self._reload_lock:
            # resolve the links now, so a rebuild during warm-up cannot mix two builds
            pipe = AssistPipeline(
                self.settings,
                classifier_dir=self.settings.classifier_dir.resolve(),
                index_dir=self.settings.index_dir.resolve(),
            )
            pipe.warm_up()
            self._pipeline = pipe  # one reference assignment: atomic for readers
            self.generation += 1
            logger.info("pipeline generation %d ready", self.generation)
            return pipe
