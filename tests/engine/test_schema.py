"""The Alembic migrations build exactly the schema the models describe (no drift on either database)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine import db, schema
from engine.models import Base


def test_migrations_match_the_models(clean_db: str) -> None:
    """After `relief init-db` (the migrations) autogenerate finds nothing to add, drop or change."""
    with db.get_engine(clean_db).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_inbox_index_migration_files_the_open_tasks(case_engine: Any) -> None:
    """Upgrading a database of 0009 (before the inbox index) files its open tasks as the engine would."""
    from alembic import command
    from sqlalchemy import select

    from engine.tables import INBOX
    from tests.support.cases import dispatch, start
    from tests.support.db import tx

    engine = case_engine
    dispatch(engine, start(engine), "minzheng", "yibao")
    engine.claim_task(engine.queries.list_tasks(case_no=start(engine, green_channel=True))[0]["id"], "center1")
    with tx(engine.database_url) as session:
        filed = set(session.execute(select(*INBOX.c)).all())
    config = schema.alembic_config(engine.database_url)
    command.downgrade(config, "0009")
    try:
        command.upgrade(config, "head")
    finally:
        schema.upgrade(engine.database_url)
    with tx(engine.database_url) as session:
        assert set(session.execute(select(*INBOX.c)).all()) == filed and len(filed) == 7


def test_the_archive_migration_compresses_ended_cases(case_engine: Any) -> None:
    """Upgrading a database of 0010 stores its ended cases' states compressed; a running one stays as it was."""
    from alembic import command
    from sqlalchemy import update

    from engine.tables import INSTANCE
    from tests.support.cases import complete_case, instance_of, start
    from tests.support.db import tx

    engine = case_engine
    ended, running = start(engine), start(engine)
    complete_case(engine, ended)
    state = engine.workflows.serializer.unarchive(instance_of(engine.database_url, ended).state_archive)
    config = schema.alembic_config(engine.database_url)
    command.downgrade(config, "0010")
    try:
        with tx(engine.database_url) as session:  # as 0010 kept it: the full state in the row
            session.execute(update(INSTANCE).where(INSTANCE.c.case_no == ended).values(state=state))
        command.upgrade(config, "head")
    finally:
        schema.upgrade(engine.database_url)
    archived = instance_of(engine.database_url, ended)
    assert archived.state == "" and engine.workflows.serializer.unarchive(archived.state_archive) == state
    still = instance_of(engine.database_url, running)
    assert still.state and still.state_archive is None


def test_the_window_details_migration_keeps_the_organisations(county_db: str) -> None:
    """Upgrading a database of 0015 keeps every organisation, their windows' details empty (暂未公布) until set;
    downgrading again drops only the three columns."""
    from alembic import command
    from sqlalchemy import inspect, select

    from engine.tables import ORGS
    from tests.support.db import tx

    with tx(county_db) as session:
        codes = session.execute(select(ORGS.c.code, ORGS.c.name)).all()
    config = schema.alembic_config(county_db)
    command.downgrade(config, "0015")
    try:
        with db.get_engine(county_db).connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("organisation")}
        assert columns == {"code", "name", "kind", "parent_code"}
        command.upgrade(config, "head")
    finally:
        schema.upgrade(county_db)
    with tx(county_db) as session:
        rows = session.execute(select(ORGS.c.code, ORGS.c.name, ORGS.c.address, ORGS.c.hours, ORGS.c.phone)).all()
    assert sorted((r.code, r.name) for r in rows) == sorted(codes) and len(rows) == 18
    assert {(r.address, r.hours, r.phone) for r in rows} == {("", "", "")}


def test_the_administration_migration_keeps_users_tokens_and_organisations(county_db: str) -> None:
    """Downgrading to 0022 and upgrading again: every organisation active, every user without a forced change
    or a last sign-in, every token unnamed and without expiry, no window with matters yet."""
    from alembic import command
    from sqlalchemy import func, inspect, select

    from engine.tables import ORG_MATTER, ORGS, TOKENS, USERS
    from tests.support.db import engine_for, tx

    engine_for(county_db).accounts.create_token("hotline12345")
    config = schema.alembic_config(county_db)
    command.downgrade(config, "0022")
    try:
        with db.get_engine(county_db).connect() as connection:
            assert "org_matter" not in inspect(connection).get_table_names()
            assert "must_change_password" not in {c["name"] for c in inspect(connection).get_columns("app_user")}
        command.upgrade(config, "head")
    finally:
        schema.upgrade(county_db)
    with tx(county_db) as session:
        assert set(session.scalars(select(ORGS.c.active))) == {True}
        assert set(session.execute(select(USERS.c.must_change_password, USERS.c.last_login_at,
                                          USERS.c.disabled_at)).all()) == {(False, None, None)}
        assert session.execute(select(TOKENS.c.name, TOKENS.c.expires_at)).all() == [("", None)]
        assert session.scalar(select(func.count()).select_from(ORG_MATTER)) == 0
