"""Window registration (窗口登记, R-5.1.1): consultations and applications at county/township/village
windows, with uploaded materials (R-6.1.2.2) and a printable receipt (回执)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases.channels import level_label
from engine.errors import InvalidData, NotDeployed, NotFound
from web.application_form import applicant_of, form_choices, read_form, read_uploads, region_of
from web.presenters import form_errors
from web.services import engine, principal, require

bp = Blueprint("intake", __name__, url_prefix="/intake")


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
    try:
        case_no, _instance = engine().start_case(
            applicant_of(values), "window", level, values["green_channel"], who.username, who.org_code,
            uploads=uploads)
    except InvalidData as refused:
        return _render_new(values, level, refused.errors, 422, files_lost=bool(uploads))
    except NotDeployed as missing:
        flash(missing.message, "error")
        return _render_new(values, level, status=503, files_lost=bool(uploads))
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
    return render_template("intake/receipt.html", r=facts)
