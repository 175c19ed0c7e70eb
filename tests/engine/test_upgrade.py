"""Upgrades: a database at every earlier revision, with cases in it, upgrades to head (`relief init-db`) and its
cases go on; and every migration downgrades (head → base → head)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from engine import db, schema
from tests.support.backup import case_rows, empty_database
from tests.support.cases import accept, dispatch, open_task, start
from tests.support.cli import relief
from tests.support.db import engine_for
from tests.support.upgrade import copy_rows, earlier_revisions, migrate_to

# Before 0008 a process could call no decision table; the flow of today calls one (relief_suggestion), and the
# flow of then is not kept, so from those revisions the applications, organisations and users are carried over
# and the flow is deployed anew after the upgrade; from 0008 on the running cases themselves go on.
DECISION_TABLES = "0008"
PROCESS_TABLES = frozenset({"process_definition", "process_instance", "human_task", "human_task_group",
                            "inbox_entry"})


@pytest.fixture
def running_cases(case_engine: Any) -> dict[str, str]:
    """Two cases on the suite's database: one waiting at 初审 (triage), one dispatched to 民政 (受理告知)."""
    waiting, dispatched = start(case_engine), start(case_engine, township="T02", village="T02V01")
    dispatch(case_engine, dispatched, "minzheng")
    return {"waiting": waiting, "dispatched": dispatched}


@pytest.mark.parametrize("revision", earlier_revisions())
def test_a_database_of_an_earlier_revision_upgrades_and_its_cases_go_on(
        clean_db: str, running_cases: dict[str, str], tmp_path: Path, revision: str) -> None:
    """A database at `revision` holding the organisations, users, process, cases, tasks and events (as its schema
    had them) upgrades with `relief init-db`; its cases keep their rows and go on, and a new case runs."""
    with empty_database(clean_db, tmp_path, f"upgrade_{revision}") as old:
        migrate_to(old, revision)
        running = revision >= DECISION_TABLES
        copied = copy_rows(clean_db, old, frozenset() if running else PROCESS_TABLES)
        relief("init-db", database_url=old)
        assert schema.current_revision(old) == schema.current_revision(clean_db)
        kept = case_rows(old, copied)  # the columns of the older schema hold what they held
        assert kept == case_rows(clean_db, copied) and len(kept["cases"]) == 2
        assert len(kept.get("tasks", ())) >= 2 or not running
        # Before 0002 there were no accounts: the county's staff are created after the upgrade.
        engine = engine_for(old, county="app_user" not in copied, deploy=not running)
        if running:
            assert {t["case_no"] for t in engine.queries.list_tasks()} == set(running_cases.values())
            go_on(engine, running_cases)
        fresh = start(engine)
        dispatch(engine, fresh, "minzheng")
        assert open_task(engine, fresh, "dept_accept", "minzheng")


def go_on(engine: Any, running_cases: dict[str, str]) -> None:
    """The cases started before the upgrade take their next steps."""
    engine.complete_task(open_task(engine, running_cases["dispatched"], "dept_accept", "minzheng"), "mz1", accept())
    assert open_task(engine, running_cases["dispatched"], "dept_result", "minzheng")
    dispatch(engine, running_cases["waiting"], "yibao")
    assert open_task(engine, running_cases["waiting"], "dept_accept", "yibao")


def test_every_migration_downgrades_and_upgrades_again(tmp_path: Path, database_url: str) -> None:
    """From head down to base (no tables left but alembic_version) and back up to head on an empty database."""
    with empty_database(database_url, tmp_path, "downgrade") as url:
        config = schema.alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        with db.get_engine(url).connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
        assert schema.current_revision(url) == schema.current_revision(database_url)
