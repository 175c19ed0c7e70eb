"""The 12345 data interface (R-5.1.3): work orders pushed in, their state and 回单 read back."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from web.api.base import allowed, bp, json_body, refuse
from web.services import engine, principal


@bp.post("/hotline/work-orders")
def push_work_order() -> tuple[Response, int, dict[str, str]]:
    """Receive a work order: 201 with a new case, 200 with the same case when the order is known."""
    who = allowed("hotline_push")
    order = request.get_json(silent=True)
    if order is None:
        refuse(400, "请求体应为 JSON（Content-Type: application/json）", "bad_json")
    state, created = engine().hotline.receive(who, order)
    location = url_for("api.work_order", order_no=state.order_no)
    body = {"order_no": state.order_no, "case_no": state.case_no, "status": state.status,
            "status_label": state.status_label}
    return jsonify(body), (201 if created else 200), {"Location": location}


@bp.get("/hotline/work-orders/<order_no>")
def work_order(order_no: str) -> Response:
    """Where a work order stands, with the 回单 text once its case closed; only for 12345 and admins."""
    state = engine().hotline.state(principal(), order_no)
    if state is None:
        refuse(404, f"工单 {order_no} 不存在")
    return jsonify(state.as_dict())


@bp.post("/cases/<case_no>/rating")
def rate_case(case_no: str) -> tuple[Response, int]:
    """The 12345 回访满意度 of a hotline case once it has ended (好差评, R-6.3.6): level, tags, comment."""
    who = allowed("hotline_push")
    body = json_body()
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        refuse(422, "tags 应为评价指标代码的列表", "invalid")
    done = engine().ratings.rate_hotline(who, case_no, str(body.get("level", "")), tags, str(body.get("comment", "")))
    return jsonify(done), 201
