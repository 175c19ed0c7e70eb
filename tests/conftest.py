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
from engine.models import Base

ROOT = Path(__file__).resolve().parent.parent
# Tests create many users; a cheap hash keeps that fast (production uses scrypt).
os.environ.setdefault("RELIEF_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
# The default SMS / 12345 adapters write log files; keep the tests' out of the work tree.
os.environ.setdefault("RELIEF_INSTANCE_DIR", tempfile.mkdtemp(prefix="relief-test-instance-"))
BPMN_PATH = ROOT / "processes" / "relief_linkage.bpmn"
APPLICANT = {
    "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
    "region": {"township": "T01", "village": "T01V01"}, "request": "因病致贫，申请医疗救助和临时救助",
}


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
    """Empty every table before the test (the schema stays)."""
    with db.get_engine(database_url).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    return database_url


@pytest.fixture
def case_engine(clean_db: str) -> Any:
    """A CaseEngine on the clean test database with the linkage process deployed."""
    from engine.cases.runtime import CaseEngine

    engine = CaseEngine(clean_db)
    engine.deploy(BPMN_PATH.read_bytes(), BPMN_PATH.name, "test")
    return engine


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
