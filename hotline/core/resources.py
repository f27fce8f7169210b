"""Where the shipped domain data lives: the ``hotline.data`` package, read with :mod:`importlib.resources`.

The data is package data, so a wheel or a plain ``pip install .`` finds it as well as an editable install.

Example:
    >>> data_path("taxonomy.tsv").name
    'taxonomy.tsv'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hotline.core.errors import ArtifactError

__all__ = ["DATA_DIR", "data_path"]


def _data_dir() -> Path:
    root = resources.files("hotline.data")
    path = Path(str(root))
    if not (path / "taxonomy.tsv").is_file():
        # e.g. an install from a zip file: the readers below need real files on disk
        raise ArtifactError(
            f"Hotline's shipped data was not found on disk at {path}; install Hotline as a normal "
            "(unzipped) package, e.g. 'pip install hotline-*.whl', or set HOTLINE_DATA_DIR to a copy of data/"
        )
    return path


DATA_DIR = _data_dir()


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("kb", "faq.jsonl")``."""
    return DATA_DIR.joinpath(*parts)
