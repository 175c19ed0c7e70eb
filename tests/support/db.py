"""Settings, engines and transactions on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine import db
from engine.cases.runtime import CaseEngine
from engine.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BPMN_PATH = ROOT / "processes" / "relief_linkage.bpmn"


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """The test settings: the environment the suite set (tests/conftest.py) with this database."""
    return Settings.from_environ(DATABASE_URL=database_url, **overrides)


def engine_for(database_url: str, deploy: bool = False, county: bool = False, **kwargs: Any) -> CaseEngine:
    """A CaseEngine on the test database; with `deploy` the linkage process deployed, with `county` the
    demo county loaded (applications name its townships and villages)."""
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k.isupper()}
    engine = CaseEngine(settings_for(database_url, **overrides), **kwargs)
    if county:
        engine.accounts.load_demo_data()
    if deploy:
        engine.deploy(BPMN_PATH.read_bytes(), BPMN_PATH.name, "test")
    return engine


@contextmanager
def tx(database_url: str) -> Iterator[Session]:
    """One transaction on the test database through the engine's own session factory."""
    with db.transaction(db.session_factory(database_url)) as session:
        yield session


def principal(engine: CaseEngine, username: str) -> Any:
    """The Principal of an active user of the test database."""
    found = engine.accounts.principal_named(username)
    assert found is not None, username
    return found


def deliver(database_url: str, now: Any, gateways: Any) -> dict[str, int]:
    """One outbox delivery run on the test database through the given gateways."""
    from engine.notify.outbox import deliver_pending

    return deliver_pending(db.session_factory(database_url), gateways, now)


def suite_settings() -> Settings:
    """The suite's settings (any database): what hashing, reference data and forms tests get."""
    return Settings.from_environ()
