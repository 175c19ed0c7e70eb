"""What views take from the app: the case engine, the current principal, permission checks, paging."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, request
from flask_login import current_user

from engine.access import scoping
from engine.access.accounts import Principal
from engine.cases.runtime import CaseEngine
from engine.errors import Forbidden, InvalidData, NotFound
from engine.paging import clamp
from engine.settings import Settings


def engine() -> CaseEngine:
    """The app's CaseEngine (it caches parsed specs and workflows)."""
    found: CaseEngine = current_app.extensions["relief_engine"]
    return found


def settings() -> Settings:
    """The engine's settings, as the app was configured."""
    found: Settings = current_app.extensions["relief_settings"]
    return found


def authenticate_bearer() -> None:
    """Resolve an `Authorization: Bearer` token into g.api_principal (g.bearer_failed when it is not valid)."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return
    g.api_principal = engine().accounts.principal_for_token(header[7:].strip())
    g.bearer_failed = g.api_principal is None


def principal() -> Principal:
    """The signed-in (or token-authenticated) user's Principal; 401 when there is none."""
    found: Principal | None = g.get("api_principal")
    if found is None and current_user.is_authenticated:
        found = current_user.principal
    if found is None:
        abort(401)
    return found


def require(action: str) -> Principal:
    """The current principal if `engine.access.scoping` lets them do `action`, else 403."""
    who = principal()
    try:
        scoping.require(who, action)
    except Forbidden:
        abort(403)
    return who


def page_number(args: Any) -> int:
    """The requested page number from query args (1 when missing or unusable)."""
    return clamp(args.get("page", 1))[0]


def unmask_for_view(case_no: str, reason: str) -> tuple[dict[str, str] | None, list[str] | None]:
    """The applicant's full personal data for this response (logged), or the reason's errors; 403/404."""
    try:
        return engine().files.unmask(principal(), case_no, reason), None
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except InvalidData as err:
        return None, err.errors.get("reason", [err.message])
