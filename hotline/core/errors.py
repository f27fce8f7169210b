"""Domain errors. They become HTTP errors only in ``serve/`` (see serve/errors.py)."""

from __future__ import annotations

__all__ = [
    "HotlineError",
    "InvalidInputError",
    "NotFittedError",
    "ArtifactError",
    "NotFoundError",
    "ConflictError",
]


class HotlineError(Exception):
    """Base class of every error Hotline raises on purpose."""


class InvalidInputError(HotlineError, ValueError):
    """The caller sent a value we cannot work with; the message names the value and the fix."""


class NotFittedError(HotlineError, RuntimeError):
    """A trainable stage was used before ``fit`` or ``load``."""


class ArtifactError(HotlineError, RuntimeError):
    """An artefact folder is missing, damaged or was built by something incompatible."""


class NotFoundError(HotlineError, LookupError):
    """A named resource (call, notice, FAQ entry …) does not exist."""


class ConflictError(HotlineError):
    """The request conflicts with the current state (e.g. a call id already in use)."""
