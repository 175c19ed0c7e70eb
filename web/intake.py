"""Window registration (窗口登记, R-5.1.1): consultations and applications at county/township/village
windows, with uploaded materials (R-6.1.2.2) and a printable receipt (回执)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases.channels import level_label
from engine.cases.progress import new_query_code
from engine.errors import InvalidData, NotDeployed, NotFound
from web.application_form import applicant_of, form_choices, read_form, read_uploads, region_of
from web.presenters import form_errors, private
from web.services import engine, principal, require

bp = Blueprint("intake", __name__, url_prefix="/intake")
RECEIPT_CODE = "receipt_query_code"  # the code a receipt shows once, kept in the clerk's session until then


def _render_new(values: dict[str, Any], level: str, errors: dict[str, list[str]] | None = None,
                status: int = 200, files_lost: bool = False) -> Any:
    return render_template("intake/new.html", values=values, errors=form_errors(errors or {}), level=level,
                           level_label=level_label(level),
                           files_lost=files_lost, **form_choices()), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """The registration form of a window clerk: a consultation or an application."""
    who = require("register")
    level = scoping.window_level(who)
    if request.method == "GET":
        values = read_form(MultiDict({"kind": request.args.get("kind", "application"), **scoping.home_region(who)}))
        return _render_new(values, level)
    values = read_form(request.form)
    if values["kind"] == "consultation":
        return _register_consultation(who, values, level)
    uploads = read_uploads(request.files.getlist("files"))
    code = new_query_code()  # printed once on the receipt: the applicant follows the case online with it
    try:
        case_no, _instance = engine().start_case(
            applicant_of(values), "window", level, values["green_channel"], who.username, who.org_code,
            uploads=uploads, query_code=code)
    except InvalidData as refused:
        return _render_new(values, level, refused.errors, 422, files_lost=bool(uploads))
    except NotDeployed as missing:
        flash(missing.message, "error")
        return _render_new(values, level, status=503, files_lost=bool(uploads))
    session[RECEIPT_CODE] = {"case_no": case_no, "code": code}
    return redirect(url_for("intake.receipt", case_no=case_no))


def _register_consultation(who: Principal, values: dict[str, Any], level: str) -> Any:
    try:
        engine().consultations.register(who, {**values, "region": region_of(values)})
    except InvalidData as refused:
        return _render_new(values, level, refused.errors, 422)
    flash(_("咨询登记已保存：%(name)s，无需启动救助流程。", name=personal_data.mask_name(values["name"])), "success")
    return redirect(url_for("intake.new", kind="consultation"))


@bp.route("/receipt/<case_no>")
@login_required
def receipt(case_no: str) -> Any:
    """The printable receipt (回执) of a registered application; 404 outside the user's scope."""
    try:
        facts = engine().files.receipt(principal(), case_no)
    except NotFound:
        abort(404)
    issued = session.pop(RECEIPT_CODE, None)
    code = issued["code"] if isinstance(issued, dict) and issued.get("case_no") == case_no else None
    response = current_app.make_response(render_template("intake/receipt.html", r=facts, query_code=code))
    return private(response) if code else response


@bp.route("/receipt/<case_no>/code", methods=["POST"])
@login_required
def reissue_code(case_no: str) -> Any:
    """A new query code for the receipt (the old one stops working), shown once; audited."""
    who = require("register")
    try:
        code = engine().files.reissue_query_code(who, case_no)
    except NotFound:
        abort(404)
    session[RECEIPT_CODE] = {"case_no": case_no, "code": code}
    flash(_("已生成新的查询码，原查询码作废"), "success")
    return redirect(url_for("intake.receipt", case_no=case_no))
