"""Health, readiness and metrics for the process manager, the balancer and Prometheus (issue 15).

`/healthz`: the process answers (no database). `/readyz`: the database answers and its migrations are at head
(503 with the reasons otherwise); the deadline lease's holder is reported, and warned about when stale.
`/metrics`: Prometheus' text format, to the bearer of RELIEF_METRICS_TOKEN or an address of
RELIEF_METRICS_ALLOW (403 otherwise).
None needs a sign-in, none is rate limited (no limit is set on them), and none takes a form (no CSRF).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from engine import clock
from engine.operations import Operations
from engine.settings import Settings
from web.metrics import CONTENT_TYPE, allowed, exposition

bp = Blueprint("ops", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["relief_settings"]
    return settings


def _operations() -> Operations:
    return Operations(current_app.extensions["relief_engine"].sessions)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Any:
    """The process is alive and answering."""
    return _no_store(jsonify({"status": "ok"}))


@bp.get("/readyz")
def readyz() -> Any:
    """Ready when the database answers, the schema is at head and the scheduler lease is held and fresh."""
    found = _operations().readiness(clock.now())
    response = jsonify({"status": "ready" if found["ready"] else "not ready", **found})
    response.status_code = 200 if found["ready"] else 503
    return _no_store(response)


@bp.get("/metrics")
def metrics_page() -> Any:
    """Prometheus metrics, to the token's bearer or an allowed address only."""
    if not allowed(_settings(), request.remote_addr, request.headers.get("Authorization")):
        abort(403)
    body = exposition(_operations().figures(clock.now()))
    return _no_store(Response(body, mimetype="text/plain", headers={"Content-Type": CONTENT_TYPE}))
