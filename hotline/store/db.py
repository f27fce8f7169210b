"""Open the store: an SQLAlchemy engine on ``HOTLINE_DATABASE_URL`` (default an SQLite file in the home),
upgraded to the current schema by Alembic before first use.

SQLite runs in WAL mode with ``synchronous=FULL``: a write that returned is on disk, so a kill -9 loses
nothing acknowledged. PostgreSQL commits are durable by default.

Example:
    >>> db = open_database("sqlite:////tmp/hl/hotline.sqlite3")  # doctest: +SKIP
    >>> with db.begin() as conn:  # doctest: +SKIP
    ...     conn.execute(tables.api_keys.select()).all()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from hotline.core.errors import ArtifactError, InvalidInputError

__all__ = ["Database", "open_database", "default_url", "upgrade"]

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
_upgrade_lock = threading.Lock()


def default_url(home: str | Path) -> str:
    """The embedded default: ``sqlite:///<home>/hotline.sqlite3``."""
    return f"sqlite:///{Path(home).expanduser().resolve() / 'hotline.sqlite3'}"


class Database:
    """An engine plus the dialect facts the repositories need. Thread-safe; share one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name  # "sqlite" | "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    def describe(self) -> str:
        """The URL without its password (for logs and ``/readyz``)."""
        return self.engine.url.render_as_string(hide_password=True)


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Create the engine for ``url`` and (by default) run the migrations up to the current head.

    Raises:
        InvalidInputError: ``url`` is not a database URL SQLAlchemy knows.
        ArtifactError: the database cannot be reached or upgraded.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise InvalidInputError(
            f"HOTLINE_DATABASE_URL must be an SQLAlchemy URL such as 'sqlite:////var/lib/hotline/hotline.sqlite3' "
            f"or 'postgresql+psycopg://user:pass@host/hotline', got {url!r}") from e
    kwargs: dict = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("psycopg2", "postgresql") and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # let SQLAlchemy issue BEGIN itself (pysqlite's implicit transactions would break BEGIN IMMEDIATE)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    db = Database(engine)
    if migrate:
        upgrade(db)
    return db


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # autocommit at the driver; transactions come from the "begin" hook
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def upgrade(db: Database, revision: str = "head") -> None:
    """Run Alembic's migrations on ``db`` up to ``revision`` (idempotent; safe from several processes)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:  # its INFO lines on every start say nothing an operator needs
        alembic_log.setLevel(logging.WARNING)
    try:
        with _upgrade_lock, db.engine.begin() as conn:
            if db.dialect == "postgresql":  # several replicas may start together: one migrates at a time
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72301)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as e:
        raise ArtifactError(f"cannot open the database {db.describe()}: {e.orig}. Check HOTLINE_DATABASE_URL "
                            f"and that the server is running.") from e
    logger.debug("database %s at schema %s (tables: %s)", db.describe(), revision,
                 ", ".join(sorted(inspect(db.engine).get_table_names())))
