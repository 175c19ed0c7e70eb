"""Shared fixtures: a real database (SQLite file, or PostgreSQL via RELIEF_DATABASE_URL)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, make_url, text

from engine import db, schema
from engine.catalog.service import MatterCatalog
from engine.models import Base
from engine.settings import Settings

# Tests create many users; a cheap hash keeps that fast (production uses scrypt).
os.environ.setdefault("RELIEF_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
# The default SMS / 12345 adapters write log files; keep the tests' out of the work tree.
os.environ.setdefault("RELIEF_INSTANCE_DIR", tempfile.mkdtemp(prefix="relief-test-instance-"))

from tests.support.cases import APPLICANT  # noqa: E402 - after the environment above
from tests.support.db import engine_for  # noqa: E402


def _guard_url(url: str) -> None:
    name = make_url(url).database or ""
    if not url.startswith("sqlite") and "test" not in name:
        pytest.exit(f"refusing to run tests against database {name!r}: its name must contain 'test'", 2)


def _drop_everything(url: str) -> None:
    engine = db.get_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        if inspect(connection).has_table("alembic_version"):
            connection.execute(text("DROP TABLE alembic_version"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, migrated to the newest schema once per session."""
    url = os.environ.get("RELIEF_DATABASE_URL")
    if url:
        _guard_url(url)
        _drop_everything(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'relief-test.db'}"
        os.environ["RELIEF_DATABASE_URL"] = url
    schema.upgrade(url)
    return url


@pytest.fixture
def clean_db(database_url: str) -> str:
    """Empty every table before the test (the schema stays), then set the catalog up as `relief init-db`
    does on a new database (from data/matters.yaml)."""
    with db.get_engine(database_url).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    MatterCatalog(Settings.from_environ(DATABASE_URL=database_url), db.session_factory(database_url)).ensure_seeded()
    return database_url


@pytest.fixture
def county_db(clean_db: str) -> str:
    """The clean database with the demo county's organisations and users (applications name its places)."""
    engine_for(clean_db, county=True)
    return clean_db


@pytest.fixture
def demo_db(clean_db: str) -> str:
    """The clean database with the demo county, its users and the deployed process."""
    engine_for(clean_db, deploy=True, county=True)
    return clean_db


@pytest.fixture
def case_engine(clean_db: str) -> Any:
    """A CaseEngine on the clean test database with the linkage process deployed."""
    return engine_for(clean_db, deploy=True, county=True)


@pytest.fixture
def applicant() -> dict[str, Any]:
    """A valid applicant record (fresh copy per test)."""
    return json.loads(json.dumps(APPLICANT))


@pytest.fixture
def applicant_file(tmp_path: Path, applicant: dict[str, Any]) -> Iterator[Path]:
    """The applicant record written to a JSON file, as `relief case start --applicant` reads it."""
    path = tmp_path / "applicant.json"
    path.write_text(json.dumps(applicant, ensure_ascii=False), encoding="utf-8")
    yield path
