"""Web fixtures: the Flask app on the clean test database with the demo county and the process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.db import engine_for
from tests.support.web import DEMO_PASSWORD, make_app


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
def engine(app: Flask, demo_db: str) -> Any:
    """A CaseEngine on the app's database with its own sessions (tests call it outside any request)."""
    return engine_for(demo_db)


@pytest.fixture
def bearer(demo_db: str) -> Callable[[str], dict[str, str]]:
    """Return a function giving the Authorization header of a fresh token of a demo user."""

    def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {engine_for(demo_db).accounts.create_token(username)}"}

    return headers
