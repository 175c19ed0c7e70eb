"""Feedback at the workbench (R-6.3.6): the 好差评 statistics (/feedback/, scoped to what each user may
count); complaints registered by staff — at a window by its clerk, from the
监督投诉电话 by a center officer — and the 意见簿: clerks type in what was written on paper in the hall, the
center reads every entry (answered or not) and answers, choosing whether the portal shows the answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import clock
from engine.access import scoping
from engine.errors import Forbidden, InvalidData, NotDeployed, NotFound
from engine.feedback.statistics import DIMENSIONS
from engine.feedback.suggestions import ANSWERED_FILTERS
from web.feedback_form import read_complaint
from web.presenters import private
from web.services import engine, page_number, require

bp = Blueprint("feedback", __name__, url_prefix="/feedback")
ISSUED_CODE = "complaint_query_code"  # the code shown once after registration, kept in the session until then


@bp.route("/")
@login_required
def stats() -> Any:
    """The 好差评 figures for the chosen dimension and months, or (by=complaints) the complaints of a month
    or year by type, result and handling organisation (GET filters, so a view can be bookmarked)."""
    who = require("feedback_stats")
    by = request.args.get("by", "month")
    since, until = request.args.get("since", "").strip(), request.args.get("until", "").strip()
    period = request.args.get("period", "").strip() or clock.local_text(clock.now(), "%Y-%m")
    figures, complaints, errors = None, None, {}
    try:
        if by == "complaints":
            complaints = engine().complaints.counts(who, period)
        else:
            figures = engine().ratings.statistics(who, by, since or None, until or None)
    except InvalidData as refused:
        errors = refused.errors
    return render_template("feedback/stats.html", figures=figures, complaints=complaints, errors=errors, by=by,
                           since=since, until=until, period=period, dimensions=DIMENSIONS), (422 if errors else 200)


def _complaint_form(values: dict[str, Any], channels: tuple[str, ...], errors: dict[str, list[str]] | None = None,
                    status: int = 200) -> Any:
    return render_template("feedback/complaint_new.html", values=values, errors=errors or {}, channels=channels,
                           options=engine().complaints.options()), status


@bp.route("/complaints/new", methods=["GET", "POST"])
@login_required
def complaint_new() -> Any:
    """投诉登记: a complaint made at the window or on the 监督投诉电话, registered by the member of staff."""
    who = require("complaint_register")
    channels = scoping.complaint_channels(who)
    if request.method == "GET":
        return _complaint_form({"channel": channels[0]}, channels)
    values = {**read_complaint(request.form, staff=True), "channel": request.form.get("channel", channels[0])}
    try:
        complaint_no, code = engine().complaints.register(who, values["channel"], values)
    except InvalidData as refused:
        return _complaint_form(values, channels, refused.errors, 422)
    except Forbidden:
        return _complaint_form(values, channels, {"channel": [_("请选择您可以登记的投诉渠道")]}, 422)
    except NotDeployed:
        return _complaint_form(values, channels, {"form": [_("投诉流程尚未部署，暂时无法登记，请联系系统管理员")]}, 503)
    session[ISSUED_CODE] = {"complaint_no": complaint_no, "code": code}
    return redirect(url_for("feedback.complaint_registered", complaint_no=complaint_no))


@bp.route("/complaints/<complaint_no>/registered")
@login_required
def complaint_registered(complaint_no: str) -> Any:
    """The number and, this once, the query code to pass on to the complainant."""
    require("complaint_register")
    issued = session.pop(ISSUED_CODE, None)
    if not isinstance(issued, dict) or issued.get("complaint_no") != complaint_no:
        abort(404)
    return private(current_app.make_response(render_template(
        "feedback/complaint_registered.html", complaint_no=complaint_no, query_code=issued["code"])))


# -- 意见簿 ---------------------------------------------------------------------------------------

def _suggestion_list(errors: dict[str, list[str]] | None = None, failed: int | None = None,
                     typed: dict[str, Any] | None = None, status: int = 200) -> Any:
    who = require("suggestions_answer")
    answered = request.args.get("answered", "")
    answered = answered if answered in ANSWERED_FILTERS else ""
    found = engine().suggestions.listing(who, answered, page_number(request.args))
    return render_template("feedback/suggestions.html", suggestions=found, answered=answered, errors=errors or {},
                           failed=failed, typed=typed or {}), status


@bp.route("/suggestions")
@login_required
def suggestions() -> Any:
    """The center's list of the comment book, 20 a page, unanswered first; filter answered / unanswered."""
    return _suggestion_list()


@bp.route("/suggestions/<int:suggestion_id>/answer", methods=["POST"])
@login_required
def answer(suggestion_id: int) -> Any:
    """Answer one entry (or correct its answer) and say whether the portal shows it."""
    who = require("suggestions_answer")
    text, public = request.form.get("answer", ""), request.form.get("public") == "1"
    typed = {"answer": text, "public": public}
    try:
        engine().suggestions.answer(who, suggestion_id, text, public)
    except NotFound:
        abort(404)
    except InvalidData as refused:
        return _suggestion_list(refused.errors, suggestion_id, typed, 422)
    flash(_("已答复，答复已在门户公开") if public else _("已答复（未在门户公开）"), "success")
    return redirect(url_for("feedback.suggestions", answered=request.args.get("answered", ""),
                            page=page_number(request.args)))


@bp.route("/suggestions/new", methods=["GET", "POST"])
@login_required
def suggestion_new() -> Any:
    """录入意见簿: a clerk types in a suggestion written on paper in the hall."""
    who = require("suggestion_enter")
    values = {"text": request.form.get("text", ""), "contact": request.form.get("contact", "")}
    if request.method == "GET":
        return render_template("feedback/suggestion_new.html", values={}, errors={})
    try:
        engine().suggestions.enter_from_hall(who, values["text"], values["contact"])
    except InvalidData as refused:
        return render_template("feedback/suggestion_new.html", values=values, errors=refused.errors), 422
    flash(_("已录入意见簿，县社会救助中心将阅处答复"), "success")
    return redirect(url_for("feedback.suggestion_new"))
