"""Applications and cases over the API: registration by a window clerk, a case's state and history."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request, url_for

from engine.access import scoping
from engine.cases.case_query import filter_args
from engine.errors import InvalidData
from engine.paging import DEFAULT_PER_PAGE, clamp
from web.api.base import allowed, bp, json_body, refuse
from web.presenters import download
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


# The fields of a case in `GET /api/v1/cases` (the applicant's name masked).
CASE_LIST_FIELDS = ("case_no", "channel", "channel_label", "level", "township", "village", "place", "applicant",
                    "request", "green_channel", "status", "status_label")


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    return {**{key: row.get(key) for key in CASE_LIST_FIELDS}, "channel_label": str(row["channel_label"]),
            "status_label": str(row["status_label"]), "registered_at": row["created_at"].isoformat()}


@bp.get("/cases")
def list_cases() -> Response:
    """The cases the caller may see that the filters name (`engine.cases.case_query`), newest first, one page
    of JSON with the applicant masked; `format=csv|xlsx` streams them all as a file (audited), with
    `unmask=1&reason=…` the full personal data for a bearer token of a user who may unmask."""
    who = allowed("case_export")
    args = request.args
    fmt = args.get("format", "json")
    if fmt != "json":
        unmask = args.get("unmask") in ("1", "true")
        if unmask and g.get("api_principal") is None:
            refuse(403, "导出完整个人信息须使用访问令牌（Authorization: Bearer …）调用")
        return download(engine().exports.export(who, args, fmt, unmask=unmask, reason=args.get("reason")))
    page, per_page = clamp(args.get("page", 1), args.get("per_page", DEFAULT_PER_PAGE))
    found = engine().files.search(who, args, page, per_page)
    if found["errors"]:
        raise InvalidData("查询条件有误", found["errors"])
    cases = found["cases"]
    return jsonify({"items": [_listed(r) for r in cases.items], "total": cases.total, "page": cases.page,
                    "per_page": cases.per_page, "filters": filter_args(found["filter"])})
