"""Where the shipped domain data lives (``data/`` beside the packages, versioned with the code)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "data_path"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("kb", "faq.jsonl")``."""
    return DATA_DIR.joinpath(*parts)
