"""Database connection: engine and session factory for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    """Return RELIEF_DATABASE_URL, or an SQLite file under instance/."""
    url = os.environ.get("RELIEF_DATABASE_URL")
    if url:
        return url
    instance = Path(os.environ.get("RELIEF_INSTANCE_DIR", PROJECT_ROOT / "instance"))
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'relief.db'}"


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling would defer locking until the first write; the engine
    # reads a workflow and then writes it back, so take the write lock up front (BEGIN IMMEDIATE)
    # to serialize writers instead of failing one of them half-way.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """Return a (cached) SQLAlchemy engine for `url` or the default database."""
    url = url or default_database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Return the session factory bound to the engine for `url`."""
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """Open a session in one transaction: commit on success, roll back on error."""
    session = session_factory(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
