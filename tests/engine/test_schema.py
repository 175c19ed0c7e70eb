"""The Alembic migrations build exactly the schema the models describe (no drift on either database)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine import db
from engine.models import Base


def test_migrations_match_the_models(clean_db: str) -> None:
    """After `relief init-db` (the migrations) autogenerate finds nothing to add, drop or change."""
    with db.get_engine(clean_db).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
