"""Alembic environment: migrations run against the URL given by engine.schema."""

from alembic import context
from sqlalchemy import pool

from engine.db import get_engine
from engine.models import Base
from engine.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    # `relief init-db` (engine.schema) always sets the URL; plain `alembic` falls back to RELIEF_DATABASE_URL.
    return config.get_main_option("sqlalchemy.url") or Settings.from_environ().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(),
                      target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection") or get_engine(_url())
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      poolclass=pool.NullPool)
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild an SQLite table (copy, drop, rename); with foreign keys on, dropping a
        # table that other rows point at fails, so a database with data could not be upgraded. The pragma
        # only takes effect outside a transaction: set it on the raw connection before the first BEGIN.
        _foreign_keys(connection, "OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
    finally:
        if sqlite:
            _foreign_keys(connection, "ON")


def _foreign_keys(connection, state: str) -> None:  # type: ignore[no-untyped-def]
    if connection.in_transaction():
        connection.commit()
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={state}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
