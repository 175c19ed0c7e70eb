"""How the engine's answers look on a page: due labels, local times, private responses, template helpers.

Registered on the app by `init_app`: the `local_time` filter and the `may`, `due_label` and
`get_locale` template globals, so templates ask `may('design')` instead of listing roles.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, Response, stream_with_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from engine import clock
from engine.access import scoping
from engine.cases.export import CaseExport
from engine.deadlines.due import DueState


def local_time(value: Any) -> str:
    """Jinja filter: a UTC moment (datetime or ISO text) as local 'YYYY-MM-DD HH:MM'."""
    return clock.local_text(value)


def due_label(state: DueState | None) -> tuple[str, str]:
    """("剩余 N 个工作日" | "今日到期" | "超期 N 天", css class) of a due state, translated."""
    if state is None or state.kind == "none":
        return "", ""
    if state.kind == "overdue":
        return _("超期 %(n)s 天", n=state.days_overdue), "overdue"
    if state.kind == "today":
        return _("今日到期"), "soon"
    return _("剩余 %(n)s 个工作日", n=state.workdays_left), ("soon" if state.urgent else "")


def may(action: str) -> bool:
    """Template global: may the signed-in user do `action` (engine.access.scoping.ACTIONS)?"""
    return bool(current_user.is_authenticated) and scoping.may(current_user.principal, action)


def private(response: Response) -> Response:
    """Keep a response with full personal data (or a one-time code) out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


# Field names of the application forms for the engine's field keys (the region comes as two selects).
FORM_FIELDS = {"region.township": "township", "region.village": "village", "region": "township"}


def download(export: CaseExport) -> Response:
    """A streamed file download of an export (`engine.cases.export`), never cached; its name in the user's
    language (RFC 5987 `filename*`) with an ASCII fallback. The export writes its audit row when the stream
    ends or the client goes away (the response's close)."""
    response = Response(stream_with_context(iter(export)), mimetype=export.content_type)
    response.headers["Content-Disposition"] = (f'attachment; filename="{export.ascii_filename}"; '
                                               f"filename*=UTF-8''{quote(export.filename)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.call_on_close(export.close)
    return private(response)


def form_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The engine's field errors under the names of the form's inputs."""
    shown: dict[str, list[str]] = {}
    for key, messages in errors.items():
        shown.setdefault(FORM_FIELDS.get(key, key), []).extend(messages)
    return shown


def init_app(app: Flask) -> None:
    """Register the filters and globals on `app`."""
    app.add_template_filter(local_time, "local_time")
    app.jinja_env.globals.update(may=may, due_label=due_label, get_locale=get_locale)
