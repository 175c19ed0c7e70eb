"""One log line per request, and the request id that ties it to the engine's lines (issue 15).

The id is the client's `X-Request-ID` when it is sane (at most 64 of A–Z a–z 0–9 . _ -, as a proxy or a
balancer sends it), else a new one; the response echoes it and every log record of the request carries it.
The line: method, path (no query string: it may hold a query code), endpoint, status, ms, user, request_id,
remote. The same measure feeds /metrics' latency histogram (`web.metrics`).
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, Response, g, has_request_context, request

from engine import logs
from engine.settings import Settings
from web.metrics import observe_request

log = logging.getLogger("relief.request")
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADER = "X-Request-ID"


class RequestIdFilter(logging.Filter):
    """Give every record logged inside a request that request's id (the engine's action lines too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


def request_id(given: str | None) -> str:
    """The client's id when sane, else a fresh random one."""
    return given if given and SANE_ID.fullmatch(given) else secrets.token_hex(16)


def _start() -> None:
    g.request_id = request_id(request.headers.get(HEADER))
    g.request_started = time.perf_counter()


def _user() -> str | None:
    """Who made the request, if the request already knew (no extra lookup for a static file)."""
    principal = g.get("api_principal")
    if principal is None:
        signed_in = g.get("_login_user")  # Flask-Login's user once loaded this request
        principal = getattr(signed_in, "principal", None)
    return getattr(principal, "username", None)


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:  # a response made before our before_request ran
        return response
    seconds = time.perf_counter() - started
    response.headers[HEADER] = g.request_id
    observe_request(request.endpoint, request.method, response.status_code, seconds)
    log.info("%s %s %s %d %.1fms", request.method, request.path, request.endpoint, response.status_code,
             seconds * 1000, extra={
                 "method": request.method, "path": request.path, "endpoint": request.endpoint,
                 "status": response.status_code, "ms": round(seconds * 1000, 1), "user": _user(),
                 "request_id": g.request_id, "remote": request.remote_addr})
    return response


def _add_filter(where: logging.Filterer) -> None:
    if not any(isinstance(f, RequestIdFilter) for f in where.filters):
        where.addFilter(RequestIdFilter())


def init_app(app: Flask, settings: Settings) -> None:
    """Time and log every request of `app`; outside tests, set the process's log format (RELIEF_LOG_FORMAT)."""
    if not app.testing:  # tests read the records with caplog
        _add_filter(logs.configure(settings.log_format))
    _add_filter(logs.ACTIONS)  # the engine's action lines carry the id wherever they are handled
    app.before_request(_start)
    app.after_request(_finish)
