"""Create or upgrade the database schema through Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from engine.db import analyze, ensure_sqlite_directory, get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """Return an Alembic config pointing at the engine's migrations and `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None: no schema yet)."""
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> None:
    """Bring the schema at `url` (`Settings.database_url`) to the newest revision; when a migration ran,
    refresh the planner's statistics (`analyze`), so a start on a current schema does not."""
    ensure_sqlite_directory(url)
    before = current_revision(url)
    command.upgrade(alembic_config(url), "head")
    if current_revision(url) != before:
        analyze(get_engine(url))
