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
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
