"""Database connection: engine options for SQLite (embedded) and PostgreSQL, sessions, transactions.

The engine opens every transaction itself (`transaction`), on a session factory its caller gives
it: the web app passes Flask-SQLAlchemy's request-scoped session, the CLI and the scheduler the
factory of `session_factory(url)`. Both sit on engines configured by `engine_options` and
`configure_engine`, so SQLite behaves the same under either.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own lock alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Select,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.visitors import InternalTraversal

SessionFactory = Callable[[], Session]
SQLITE_TIMEOUT = 60.0  # seconds a writer waits for SQLite's lock


def json_text(value: Any) -> str:
    """How a JSON column's value is written: UTF-8 as is and no spaces (`"身份证"` is 11 bytes,
    escaped it was 20), so the history, forms and notices of a case take less room on both databases."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def engine_options(url: str) -> dict[str, Any]:
    """Keyword arguments for `create_engine` (and Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS)."""
    if url.startswith("sqlite"):
        return {"json_serializer": json_text, "connect_args": {"timeout": SQLITE_TIMEOUT, "check_same_thread": False}}
    # JIT compiles each of the inbox's short index reads for longer than they take to run.
    return {"json_serializer": json_text, "pool_pre_ping": True, "pool_size": 10, "max_overflow": 20,
            "connect_args": {"options": "-c jit=off"}}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "relief_read_only"  # execution option: a transaction that only reads


def _sqlite_begin(connection: Any) -> None:
    # A read takes no lock up front (a plain deferred BEGIN, reading a WAL snapshot) so readers never
    # queue behind writers; everything else takes the write lock at once (see `configure_engine`).
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def configure_engine(engine: Engine) -> Engine:
    """Prepare an engine for the case engine's transactions (idempotent); return it."""
    # pysqlite's own transaction handling would defer locking until the first write; the engine
    # reads a workflow and then writes it back, so take the write lock up front (BEGIN IMMEDIATE)
    # to serialize writers instead of failing one of them half-way.
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics (after migrations and bulk loads) with ANALYZE; on SQLite from a
    sample of each index (`analysis_limit`), so it takes a second, not minutes, on a county's data."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


RANDOM_PAGE_COST = 1.1  # PostgreSQL's planner cost of a page read at random, for index-driven reads


def prefer_index_reads(conn: Connection) -> None:
    """For this transaction only, plan PostgreSQL's reads as on pages in memory or on SSD (random_page_cost
    1.1) rather than the spinning disk its default (4) assumes, which would rather scan a million rows than
    look up five thousand by index (the dashboard's fact rows). No-op on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}")


class InFewOf(ColumnElement[bool]):
    """`column IN (select)` for a select of a few thousand rows at most, that a planner should drive from:
    on PostgreSQL `column = ANY(ARRAY(select))`, computed once and looked up by index — its estimate of an
    IN over a union of index reads can be five times the rows, and it then hash-joins them to a scan of a
    far larger range instead; elsewhere the IN itself (SQLite drives from it)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no `= 1` after it where booleans are not native (SQLite)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("select", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any], select: Select[Any] | CompoundSelect) -> None:
        self.column, self.select = column, select


@compiles(InFewOf)
def _in_few_of(element: InFewOf, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.select), **kw))


@compiles(InFewOf, "postgresql")
def _in_few_of_postgresql(element: InFewOf, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(ARRAY({compiler.process(element.select, asfrom=False, **kw)}))"


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of an SQLite database file if it does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """Return the (cached) SQLAlchemy engine of `url`, configured for the case engine."""
    ensure_sqlite_directory(url)
    return configure_engine(create_engine(url, **engine_options(url)))


def sessions_on(bind: Engine) -> sessionmaker[Session]:
    """A session factory on `bind` with the engine's session options (objects stay usable after commit)."""
    return sessionmaker(bind=bind, expire_on_commit=False)


@lru_cache(maxsize=8)
def session_factory(url: str) -> sessionmaker[Session]:
    """Return the engine's own session factory for `url` (the CLI, the scheduler, tests)."""
    return sessions_on(get_engine(url))


_WRITER_POLL = 0.001


class _Writing(threading.local):
    depth = 0  # this thread holds the writer's turn (a nested write transaction does not wait for itself)


_writing = _Writing()


@contextmanager
def _sqlite_writer_turn(session: Session) -> Iterator[None]:
    """On an SQLite file, wait for the writer's turn on an OS file lock beside the database before BEGIN
    IMMEDIATE: a waiting writer then goes as soon as the last one commits, where SQLite's own busy
    handler sleeps in growing steps (up to 100 ms) and lets the unlucky wait for hundreds of them. The
    lock is only a queue: after SQLITE_TIMEOUT, or where there is no fcntl, SQLite's lock decides alone."""
    bind = session.get_bind()
    database = bind.engine.url.database if bind.dialect.name == "sqlite" else None
    if fcntl is None or not database or database == ":memory:" or _writing.depth:
        yield
        return
    with open(f"{database}.writer-lock", "a+b") as handle:
        deadline = time.monotonic() + SQLITE_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(_WRITER_POLL)
        _writing.depth = 1
        try:
            yield
        finally:
            _writing.depth = 0  # closing the file releases the lock


@contextmanager
def transaction(sessions: SessionFactory, read_only: bool = False, snapshot: bool = False) -> Iterator[Session]:
    """Open a session in one transaction: commit on success, roll back on error, then close it.

    `read_only`: the transaction only reads; on SQLite it then does not take the write lock (and a
    writer first waits for its turn, `_sqlite_writer_turn`). `snapshot` (with `read_only`): every statement
    sees the database as it was at the first (PostgreSQL: REPEATABLE READ; an SQLite read is one already)."""
    session = sessions()
    try:
        with nullcontext() if read_only else _sqlite_writer_turn(session), session.begin():
            if read_only:
                options: dict[str, Any] = {READ_ONLY: True}
                if snapshot and session.get_bind().dialect.name == "postgresql":
                    options["isolation_level"] = "REPEATABLE READ"
                session.connection(execution_options=options)
            yield session
    finally:
        session.close()

