"""The durable store: one SQLAlchemy database (SQLite file by default, PostgreSQL for several replicas).

Tables are defined once in :mod:`hotline.store.tables` and created by Alembic migrations
(:mod:`hotline.store.migrations`); :func:`hotline.store.db.open_database` upgrades a database to the
current schema before it is used.
"""
