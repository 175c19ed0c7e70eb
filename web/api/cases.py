"""Applications and cases over the API: registration by a window clerk, a case's state and history."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from sqlalchemy import select

from engine.access import personal_data
from engine.cases import store
from engine.cases.hotline import resolve_region
from engine.cases.intake import applicant_errors
from engine.errors import InvalidData
from engine.models import Application
from web.api.base import bp, json_body, refuse
from web.services import case_engine, principal, transaction

# A clerk registers at the level of their own organisation (county, township or village window).
LEVEL_OF_ORG_KIND = {"center": "county", "township": "township", "village": "village"}
# Online applications come through the portal and 12345 orders through their own endpoint.
APPLICATION_CHANNELS = ("window", "terminal")
APPLICANT_FIELDS = ("name", "id_number", "phone", "region", "address", "request", "matters")


def _request_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if body.get("channel", "window") not in APPLICATION_CHANNELS:
        errors["channel"] = [f"受理渠道应为 {'、'.join(APPLICATION_CHANNELS)} 之一"]
    if not isinstance(body.get("green_channel", False), bool):
        errors["green_channel"] = ["应为 true 或 false"]
    if not isinstance(body.get("matters", []), list):
        errors["matters"] = ["应为事项代码的列表"]
    return errors


@bp.post("/applications")
def create_application() -> tuple[Response, int, dict[str, str]]:
    """Register an application at the clerk's window and start its case (R-5.1.1)."""
    who = principal()
    level = LEVEL_OF_ORG_KIND.get(who.org_kind)
    if not who.has("clerk") or level is None:
        refuse(403, "仅窗口工作人员可以登记救助申请")
    body = json_body()
    applicant = {key: body[key] for key in APPLICANT_FIELDS if key in body}
    with transaction() as session:
        region, region_errors = resolve_region(session.connection(), body.get("region"))
    applicant["region"] = region or applicant.get("region")
    channel = str(body.get("channel", "window"))
    errors = applicant_errors(applicant, channel, level)
    if region_errors:
        errors.pop("region.township", None)
    errors.update({**region_errors, **_request_errors(body)})
    if errors:
        raise InvalidData("申请信息有误，请修改后重新提交", errors)
    case_no, instance_id = case_engine().start_case(applicant, channel, level, body.get("green_channel", False),
                                                    who.username, who.org_code)
    location = url_for("api.show_case", case_no=case_no)
    return jsonify({"case_no": case_no, "instance_id": instance_id}), 201, {"Location": location}


def masked_applicant(row: Application) -> dict[str, Any]:
    """The applicant of a case with personal data masked (R-6.4.3)."""
    return {
        "name": personal_data.mask_name(row.applicant_name), "id_number": personal_data.mask_id_number(row.id_number),
        "phone": personal_data.mask_phone(row.phone),
        "address": personal_data.mask_address(row.address) if row.address else None,
        "region": {"township": row.township, "village": row.village}, "request": row.request,
        "channel": row.channel, "level": row.level, "green_channel": row.green_channel,
        "matters": list(row.matters or []), "registered_at": row.created_at.isoformat(),
    }


@bp.get("/cases/<case_no>")
def show_case(case_no: str) -> Response:
    """A case's status, open tasks and history, with the applicant masked; 404 outside the caller's scope."""
    case = case_engine().show_case(case_no, principal())
    with transaction() as session:
        row = session.scalar(select(Application).where(Application.case_no == case_no))
        order_no = store.hotline_order_of(session.connection(), case_no)
    if row is None:
        refuse(404, f"案件 {case_no} 不存在或不在您的权限范围内")
    return jsonify({**case, "applicant": masked_applicant(row), "hotline_order_no": order_no})
