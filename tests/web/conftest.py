"""Web fixtures: the Flask app on the clean test database with the demo county and the process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import clock, db
from engine.access.accounts import create_token, load_demo_data
from tests.conftest import BPMN_PATH

DEMO_PASSWORD = "Demo@2026"


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """Create the app for tests (CSRF off unless overridden)."""
    from web import create_app

    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
              "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(tmp_path / "uploads"),
              "RATELIMIT_ENABLED": False}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def demo_db(clean_db: str) -> str:
    """The clean database with the demo county, its users and the deployed process."""
    with db.transaction(clean_db) as session:
        load_demo_data(session, clock.now())
    from engine.cases.runtime import CaseEngine

    CaseEngine(clean_db).deploy(BPMN_PATH.read_bytes(), BPMN_PATH.name, "test")
    return clean_db


@pytest.fixture
def app(demo_db: str, tmp_path: Path) -> Flask:
    """The app with CSRF checks off (CSRF has its own tests)."""
    return make_app(demo_db, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def login(app: Flask) -> Callable[[str], FlaskClient]:
    """Return a function giving a new client signed in as a demo user."""

    def sign_in(username: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, response.data.decode()
        return client

    return sign_in


@pytest.fixture
def engine(app: Flask) -> Any:
    """The app's CaseEngine (same database)."""
    return app.extensions["relief_engine"]


@pytest.fixture
def bearer(demo_db: str) -> Callable[[str], dict[str, str]]:
    """Return a function giving the Authorization header of a fresh token of a demo user."""

    def headers(username: str) -> dict[str, str]:
        with db.transaction(demo_db) as session:
            return {"Authorization": f"Bearer {create_token(session, username, clock.now())}"}

    return headers
