"""Readers of the research-only public datasets: DataCLUE CIC, AFQMC and LCQMC, read in place.

The datasets live outside the repository and are never shipped: ``$HOTLINE_DATASETS_DIR`` if set, else
``../shared/datasets`` relative to the current directory (CI runs from the repository root with ``shared/``
beside it). The folder holds ``DataCLUE_CIC/`` (JSON lines ``{"id","label","sentence","label_des"}``),
``AFQMC/`` and ``LCQMC/`` (TSV ``sentence1<TAB>sentence2<TAB>label``).

Example:
    >>> splits = load_cic_splits(default_datasets_dir())  # doctest: +SKIP
    >>> len(splits.classes)  # doctest: +SKIP
    118
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import read_jsonl

__all__ = ["DATASETS_ENV", "STS_SPLITS", "CicData", "CicSplits", "default_datasets_dir", "require_datasets_dir",
           "load_cic", "load_cic_splits", "read_sts_pairs"]

DATASETS_ENV = "HOTLINE_DATASETS_DIR"
STS_SPLITS = {"AFQMC": "dev.txt", "LCQMC": "test.txt"}  # the split C-MTEB reports for each


def default_datasets_dir() -> Path:
    """``$HOTLINE_DATASETS_DIR`` if set, else ``../shared/datasets`` relative to the current directory."""
    env = os.environ.get(DATASETS_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / ".." / "shared" / "datasets").resolve()


def _where_to_look() -> str:
    return (f"pass --datasets DIR or set ${DATASETS_ENV} to the folder that holds DataCLUE_CIC/, AFQMC/ and LCQMC/ "
            f"(default: ../shared/datasets relative to the current directory, here {default_datasets_dir()}; "
            "see shared/datasets/README.md)")


def require_datasets_dir(root: str | Path) -> Path:
    """``root`` as a Path; an actionable error when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"datasets folder {str(root)!r} does not exist; {_where_to_look()}")
    return root


def _require(path: Path) -> Path:
    if not path.is_file():
        raise InvalidInputError(f"dataset file {str(path)!r} does not exist; {_where_to_look()}")
    return path


def _read_cic_file(path: Path) -> tuple[list[str], list[str]]:
    rows = read_jsonl(_require(path))
    return [r["sentence"] for r in rows], [str(r["label"]) for r in rows]


@dataclass
class CicSplits:
    """The CIC files as they are: train, dev and test_public ``(texts, labels)`` and the label descriptions."""

    train: tuple[list[str], list[str]]
    dev: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]
    label_des: dict[str, str]  # label id → its description

    @property
    def classes(self) -> list[str]:
        return sorted(self.label_des, key=int)


@dataclass
class CicData:
    """The benchmark's view of CIC: train+dev to train on (noisy labels), test_public to score once."""

    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    label_des: dict[str, str]  # label id → its description


def load_cic_splits(root: str | Path) -> CicSplits:
    """Read ``DataCLUE_CIC/{train,dev,test_public,labels}.json`` under ``root``."""
    d = Path(root) / "DataCLUE_CIC"
    label_des = {str(r["label"]): r["label_des"] for r in read_jsonl(_require(d / "labels.json"))}
    return CicSplits(_read_cic_file(d / "train.json"), _read_cic_file(d / "dev.json"),
                     _read_cic_file(d / "test_public.json"), label_des)


def load_cic(root: str | Path, *, smoke: bool = False, seed: int = 0) -> CicData:
    """train+dev and test_public; ``smoke`` keeps a fixed random 300 / 200 of them."""
    s = load_cic_splits(root)
    train = list(zip(s.train[0] + s.dev[0], s.train[1] + s.dev[1]))
    test = list(zip(*s.test))
    if smoke:
        rng = random.Random(seed)
        train, test = rng.sample(train, min(300, len(train))), rng.sample(test, min(200, len(test)))
    return CicData([t for t, _ in train], [y for _, y in train], [t for t, _ in test], [y for _, y in test],
                   s.label_des)


def read_sts_pairs(root: str | Path, dataset: str) -> tuple[list[str], list[str], np.ndarray]:
    """``(sentences1, sentences2, labels)`` of the split in :data:`STS_SPLITS` (``"AFQMC"`` or ``"LCQMC"``)."""
    if dataset not in STS_SPLITS:
        raise InvalidInputError(f"dataset must be one of {sorted(STS_SPLITS)}, got {dataset!r}")
    path = _require(Path(root) / dataset / STS_SPLITS[dataset])
    a, b, y = [], [], []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise InvalidInputError(f"{path}:{lineno}: expected 'sentence1<TAB>sentence2<TAB>label', got {line!r}")
            a.append(parts[0])
            b.append(parts[1])
            y.append(float(parts[2]))
    return a, b, np.asarray(y)
