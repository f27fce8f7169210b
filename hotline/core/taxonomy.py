"""The two-level complaint taxonomy (service → phenomenon) loaded from a TSV file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path

__all__ = ["Taxonomy", "TaxonomyEntry", "default_taxonomy"]

NON_COMPLAINT_PREFIX = "inquiry."


@dataclass(frozen=True)
class TaxonomyEntry:
    code: str
    service: str
    phenomenon: str
    scope: str

    @property
    def service_code(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def is_complaint(self) -> bool:
        return not self.code.startswith(NON_COMPLAINT_PREFIX)


class Taxonomy:
    """Leaf codes like ``broadband.cannot_connect``; the part before the dot is the service.

    Example:
        >>> tax = default_taxonomy()
        >>> tax["broadband.cannot_connect"].phenomenon
        '宽带断网'
    """

    def __init__(self, entries: list[TaxonomyEntry]) -> None:
        self.entries = entries
        self._by_code = {e.code: e for e in entries}
        self.codes = [e.code for e in entries]
        self.services = sorted({e.service_code for e in entries})

    @classmethod
    def from_tsv(cls, path: str | Path) -> Taxonomy:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"taxonomy file not found: {path}; pass a TSV with columns code, service, phenomenon, scope")
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        missing = {"code", "service", "phenomenon"} - set(rows[0] if rows else {})
        if missing:
            raise ArtifactError(f"taxonomy {path} lacks columns {sorted(missing)}")
        return cls([TaxonomyEntry(r["code"], r["service"], r["phenomenon"], r.get("scope", "")) for r in rows])

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> TaxonomyEntry:
        try:
            return self._by_code[code]
        except KeyError:
            raise InvalidInputError(f"unknown taxonomy code {code!r}; valid codes look like 'data.slow'") from None

    def __len__(self) -> int:
        return len(self.entries)

    def service_of(self, code: str) -> str:
        """Service code of a leaf (``'data.slow'`` → ``'data'``); works for codes outside the taxonomy too."""
        return code.split(".", 1)[0]

    def service_name(self, service_code: str) -> str:
        for e in self.entries:
            if e.service_code == service_code:
                return e.service
        return service_code

    def covers(self, labels: list[str] | set[str]) -> bool:
        """True when every label is a code of this taxonomy."""
        return all(label in self._by_code for label in labels)


@lru_cache(maxsize=4)
def default_taxonomy(path: str | None = None) -> Taxonomy:
    return Taxonomy.from_tsv(path or data_path("taxonomy.tsv"))
