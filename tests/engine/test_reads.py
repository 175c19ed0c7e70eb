"""Reading costs no write: pages read without taking SQLite's write lock, and an API token records its
use at most once a minute (issue 11)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from engine import clock, db
from engine.cases.inbox import TaskQuery
from engine.models import ApiToken
from tests.support.cases import start
from tests.support.db import tx


def test_a_page_reads_while_a_step_holds_the_write_lock(case_engine: Any) -> None:
    """While another transaction holds the write lock (a step under way), the inbox and a case page
    answer at once: a reader neither waits for it nor fails (SQLite: a plain BEGIN on the WAL)."""
    engine = case_engine
    case_no = start(engine)
    center = engine.accounts.principal_named("center1")
    writer = db.get_engine(engine.database_url).connect()
    writer.begin()
    writer.execute(text("UPDATE process_instance SET lock_version = lock_version WHERE case_no = :c"), {"c": case_no})
    found: dict[str, Any] = {}

    def read() -> None:
        found["inbox"] = engine.inbox.tasks(center, TaskQuery())
        found["case"] = engine.files.case_file(center, case_no)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=10)  # the busy timeout a writer would wait is 60 s
    writer.rollback()
    writer.close()
    assert not reader.is_alive(), "a read waited for the write lock"
    reader.join()
    assert [t["case_no"] for t in found["inbox"].items] == [case_no] and found["case"]["case"]["case_no"] == case_no


def test_a_token_records_its_use_at_most_once_a_minute(case_engine: Any) -> None:
    """Authenticating writes last_used_at on the first use and again only once it is a minute old."""
    engine = case_engine
    token = engine.accounts.create_token("center1")

    def last_used() -> Any:
        with tx(engine.database_url) as session:
            return session.scalar(select(ApiToken.last_used_at))

    first = clock.now().replace(microsecond=0)
    with clock.frozen_at(first):
        assert engine.accounts.principal_for_token(token).username == "center1"
    assert last_used() == first
    with clock.frozen_at(first + timedelta(seconds=59)):
        assert engine.accounts.principal_for_token(token) is not None
    assert last_used() == first
    with clock.frozen_at(first + timedelta(seconds=61)):
        assert engine.accounts.principal_for_token(token) is not None
    assert last_used() == first + timedelta(seconds=61)
    engine.accounts.revoke_tokens("center1")
    assert engine.accounts.principal_for_token(token) is None


def test_sqlite_writers_queue_on_a_lock_file_that_each_transaction_releases(tmp_path: Any) -> None:
    """On an SQLite file a write transaction holds the writer's turn (an OS lock beside the database) until
    it ends, and a read never takes it."""
    import fcntl

    url = f"sqlite:///{tmp_path / 'turn.db'}"
    sessions = db.session_factory(url)
    lock_file = tmp_path / "turn.db.writer-lock"

    def taken() -> bool:
        with open(lock_file, "a+b") as other:  # another open file: as another process or thread would
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    with db.transaction(sessions) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        assert taken()
        with db.transaction(sessions, read_only=True) as reader:
            assert reader.execute(text("SELECT count(*) FROM sqlite_master")).scalar() is not None
    assert not taken()
    with db.transaction(sessions, read_only=True) as reader:
        reader.execute(text("SELECT 1"))
        assert not taken()
    with db.transaction(sessions) as writer:
        writer.execute(text("INSERT INTO t VALUES (1)"))
        assert taken()
    assert not taken()
