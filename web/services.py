"""Access from views to the engine: one CaseEngine per app, transactions, the current principal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, current_app, g
from flask_login import current_user
from sqlalchemy.orm import Session

from engine import db
from engine.access.accounts import Principal
from engine.cases.runtime import CaseEngine


def case_engine() -> CaseEngine:
    """The app's CaseEngine (it caches parsed specs and workflows)."""
    engine: CaseEngine = current_app.extensions["relief_engine"]
    return engine


@contextmanager
def transaction() -> Iterator[Session]:
    """One database transaction on the app's database (commit on success)."""
    with db.transaction(current_app.config["DATABASE_URL"]) as session:
        yield session


def principal() -> Principal:
    """The signed-in (or token-authenticated) user's Principal; 401 when there is none."""
    found: Principal | None = g.get("api_principal")
    if found is None and current_user.is_authenticated:
        found = current_user.principal
    if found is None:
        abort(401)
    return found


def require_role(*roles: str) -> Principal:
    """The current principal if they hold one of `roles`, else 403."""
    who = principal()
    if not who.has(*roles):
        abort(403)
    return who


def page_args(args: Any, per_page: int = 20) -> tuple[int, int]:
    """(page, per_page) from query args, clamped to sane values."""
    try:
        page = max(1, int(args.get("page", 1)))
    except (TypeError, ValueError):
        page = 1
    return page, per_page
