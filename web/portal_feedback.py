"""投诉反馈 and 意见簿 on the portal (R-6.2.1, R-6.3.6), without sign-in; nested in `web.portal` (/portal/…).

A complaint may be anonymous; it gets a number and a query code, shown once, with which its progress and
reply are looked up. The comment book lists the suggestions whose answer the center made public, and takes
new ones (the contact, optional, is never shown). Every POST is rate-limited per IP like the portal's others.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from engine.cases.progress import normalize_query_code
from engine.errors import InvalidData, NotDeployed, NotFound
from web.extensions import limiter
from web.feedback_form import read_complaint
from web.presenters import private
from web.services import engine, page_number, portal_rate_limit

bp = Blueprint("feedback", __name__)


def _complaint_form(values: dict[str, Any], errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    return render_template("portal/complaint.html", values=values, errors=errors or {},
                           options=engine().complaints.options()), status


@bp.route("/complaints", methods=["GET", "POST"])
@limiter.limit(portal_rate_limit, methods=["POST"])
def complaint() -> Any:
    """投诉反馈: the form, and on success the complaint's number and query code (shown once)."""
    if request.method == "GET":
        return _complaint_form({"case_no": request.args.get("case_no", "").strip()[:40]})
    values = read_complaint(request.form)
    try:
        complaint_no, code = engine().complaints.file_online(values)
    except InvalidData as refused:
        return _complaint_form(values, refused.errors, 422)
    except NotDeployed:
        return _complaint_form(values, {"form": [_("暂时无法在网上受理投诉，请拨打监督投诉电话或到受理窗口反映")]}, 503)
    return private(current_app.make_response(render_template(
        "portal/complaint_filed.html", complaint_no=complaint_no, query_code=code, anonymous=values["anonymous"])))


@bp.route("/complaints/query", methods=["GET", "POST"])
@limiter.limit(portal_rate_limit, methods=["POST"])
def complaint_query() -> Any:
    """The progress and reply of a complaint, by its number and query code; one message for every failure."""
    if request.method == "GET":
        return render_template("portal/complaint_query.html", complaint_no="", progress=None, error=None)
    complaint_no = request.form.get("complaint_no", "").strip().upper()[:40]
    try:
        progress = engine().complaints.progress(complaint_no, normalize_query_code(request.form.get("query_code", "")))
    except NotFound:
        return render_template("portal/complaint_query.html", complaint_no=complaint_no, progress=None,
                               error=_("投诉编号或查询码不正确")), 404
    return private(current_app.make_response(render_template(
        "portal/complaint_query.html", complaint_no=complaint_no, progress=progress, error=None)))


@bp.route("/suggestions", methods=["GET", "POST"])
@limiter.limit(portal_rate_limit, methods=["POST"])
def suggestions() -> Any:
    """意见簿: the answered suggestions made public, newest answer first, and the form for a new one."""
    values = {"text": request.form.get("text", ""), "contact": request.form.get("contact", "")}
    errors: dict[str, list[str]] = {}
    received, status = False, 200
    if request.method == "POST":
        try:
            engine().suggestions.submit_online(values["text"], values["contact"])
        except InvalidData as refused:
            errors, status = refused.errors, 422
        else:
            values, received = {}, True
    found = engine().suggestions.public_listing(page_number(request.args))
    return render_template("portal/suggestions.html", suggestions=found, values=values, errors=errors,
                           received=received), status
