"""Applications and cases over the API: registration by a window clerk, a case's state and history."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from engine.access import scoping
from web.api.base import allowed, bp, json_body
from web.services import engine, principal

# Online applications come through the portal and 12345 orders through their own endpoint.
APPLICATION_CHANNELS = ("window", "terminal")
APPLICANT_FIELDS = ("name", "id_number", "phone", "region", "address", "request", "matters")


def _request_errors(body: dict[str, object]) -> dict[str, list[str]]:
    """What only this endpoint refuses; the application itself is checked by the engine like every channel's."""
    errors: dict[str, list[str]] = {}
    if body.get("channel", "window") not in APPLICATION_CHANNELS:
        errors["channel"] = [f"受理渠道应为 {'、'.join(APPLICATION_CHANNELS)} 之一"]
    if not isinstance(body.get("green_channel", False), bool):
        errors["green_channel"] = ["应为 true 或 false"]
    return errors


@bp.post("/applications")
def create_application() -> tuple[Response, int, dict[str, str]]:
    """Register an application at the clerk's window and start its case (R-5.1.1)."""
    who = allowed("register")
    level = scoping.window_level(who)
    body = json_body()
    errors = _request_errors(body)
    applicant = {key: body[key] for key in APPLICANT_FIELDS if key in body}
    channel = str(body.get("channel", "window")) if not errors.get("channel") else "window"
    case_no, instance_id = engine().start_case(applicant, channel, level, body.get("green_channel") is True,
                                               who.username, who.org_code, refusals=errors)
    location = url_for("api.show_case", case_no=case_no)
    return jsonify({"case_no": case_no, "instance_id": instance_id}), 201, {"Location": location}


@bp.get("/cases/<case_no>")
def show_case(case_no: str) -> Response:
    """A case's status, open tasks and history, with the applicant masked; 404 outside the caller's scope."""
    return jsonify(engine().queries.show_case(case_no, principal(), applicant=True))
