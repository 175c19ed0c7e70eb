"""Public portal (R-5.1.2, R-6.2.1), without sign-in: the home page with the assistance types and their
matters, each matter's service guide (服务指南), the linkage flow explained (救助流程), the service windows
(办事大厅), online application, progress query and the 补正 upload (R-6.2.2); 投诉反馈 (a complaint, anonymous
allowed, followed by its number and query code) and the 意见簿 (R-6.3.6).

Every POST is rate-limited per IP (PORTAL_RATE_LIMIT). An online applicant gets a query code
(查询码) once, on the confirmation page; only its hash is stored. The progress page shows the
status, the open steps and the notices to the applicant — never ID number, phone or address.
The other pages read only public data (`CaseEngine.portal`): no case and no person.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.cases import materials
from engine.cases.progress import new_query_code, normalize_query_code
from engine.catalog.records import FIELD_WORK, FORM_HINTS, FORMS
from engine.errors import InvalidData, NotDeployed, NotFound, TaskConflict
from web.application_form import applicant_of, form_choices, read_form, read_uploads
from web.extensions import limiter
from web.feedback_form import read_complaint
from web.presenters import form_errors, private
from web.services import engine, page_number

bp = Blueprint("portal", __name__, url_prefix="/portal")

HONEYPOT_FIELD = "homepage"
ONLINE_ACTOR = "applicant"


def _portal_rate_limit() -> str:
    return str(current_app.config["PORTAL_RATE_LIMIT"])


def _render_apply(values: dict[str, Any], errors: dict[str, list[str]] | None = None, status: int = 200,
                  consent: bool = False, files_lost: bool = False) -> Any:
    return render_template("portal/apply.html", values=values, errors=form_errors(errors or {}), consent=consent,
                           files_lost=files_lost, honeypot=HONEYPOT_FIELD, **form_choices()), status


@bp.route("/")
def home() -> Any:
    """The portal's home page: 救助类别 with their 救助项目 (each linking to its guide) and the portal's services."""
    return render_template("portal/home.html", assistance_types=engine().portal.assistance_items())


@bp.route("/guide/<code>")
def guide(code: str) -> Any:
    """服务指南 of one matter: who, how, what, the materials with their review standard, time limit, place, basis."""
    try:
        matter = engine().portal.guide(code)
    except NotFound:
        abort(404)
    return render_template("portal/guide.html", matter=matter, forms=FORMS, form_hints=FORM_HINTS,
                           field_work=FIELD_WORK)


@bp.route("/process")
def process() -> Any:
    """救助流程: the deployed linkage flow in the read-only viewer, and each of its steps explained."""
    return render_template("portal/process.html", process=engine().portal.linkage_process())


@bp.route("/hall")
def hall() -> Any:
    """办事大厅: the service windows, county → townships → villages."""
    return render_template("portal/hall.html", windows=engine().portal.service_windows())


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def apply() -> Any:
    """Online application (网上申请): the form (`?matter=code` ticks that matter), and on success the case
    number and query code."""
    if request.method == "GET":
        return _render_apply(read_form(MultiDict([("matters", code) for code in request.args.getlist("matter")])))
    values = read_form(request.form)
    values["kind"] = "application"
    consent = request.form.get("consent") == "1"
    uploads = read_uploads(request.files.getlist("files"))
    if request.form.get(HONEYPOT_FIELD):
        # Filled in by a bot (people never see the field): nothing is registered.
        return _render_apply(values, {"form": [_("提交未被受理，请刷新页面后重新填写")]}, 400, consent)
    code = new_query_code()
    try:
        case_no, _instance = engine().start_case(applicant_of(values), "online", "county", values["green_channel"],
                                                 ONLINE_ACTOR, query_code=code, uploads=uploads, consent=consent)
    except InvalidData as refused:
        return _render_apply(values, refused.errors, 422, consent, files_lost=bool(uploads))
    except NotDeployed:
        return _render_apply(values, {"form": [_("系统暂时无法受理网上申请，请稍后再试或前往受理窗口")]}, 503,
                             consent, files_lost=bool(uploads))
    # The code is shown once; keep it out of caches.
    return private(current_app.make_response(render_template("portal/applied.html", case_no=case_no,
                                                             query_code=code)))


@bp.route("/query", methods=["GET", "POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def query() -> Any:
    """Progress query (进度查询) by case number and query code; one message for every failure."""
    if request.method == "GET":
        return render_template("portal/query.html", case_no="", error=None, progress=None)
    case_no = request.form.get("case_no", "").strip().upper()[:40]
    code = normalize_query_code(request.form.get("query_code", ""))
    progress = engine().files.progress(case_no, code)
    if progress is None:
        return render_template("portal/query.html", case_no=case_no, progress=None,
                               error=_("案件编号或查询码不正确")), 404
    return _progress_page(case_no, code)


def _progress_page(case_no: str, code: str, error: str | None = None, notice: str | None = None,
                   errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    progress = engine().files.progress(case_no, code)
    html = render_template("portal/query.html", case_no=case_no, progress=progress, error=error, notice=notice,
                           upload_errors=errors or {}, query_code=code, max_files=materials.MAX_FILES,
                           max_mb=materials.MAX_FILE_BYTES // (1024 * 1024))
    return private(current_app.make_response((html, status)))


@bp.route("/supplement", methods=["POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def supplement() -> Any:
    """The 补正 upload from the progress page (case number and query code, PDF/JPG/PNG as at the window)."""
    case_no = request.form.get("case_no", "").strip().upper()[:40]
    code = normalize_query_code(request.form.get("query_code", ""))
    uploads = read_uploads(request.files.getlist("files"))
    try:
        engine().supplements.submit_online(case_no, code, uploads, request.form.get("note", ""))
    except NotFound:
        return render_template("portal/query.html", case_no=case_no, progress=None,
                               error=_("案件编号或查询码不正确")), 404
    except InvalidData as refused:
        return _progress_page(case_no, code, errors=refused.errors, status=422)
    except TaskConflict as conflict:
        return _progress_page(case_no, code, error=conflict.message, status=409)
    return _progress_page(case_no, code, notice=_("补正材料已提交，县社会救助中心将继续审查。"))


# -- 好差评 (R-6.3.6) -------------------------------------------------------------------------------

@bp.route("/rate", methods=["GET", "POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def rate() -> Any:
    """好差评 of an ended case by case number and query code: first the number and code (or the progress
    page's button), then the level, tags and comment; one rating per case, one 追评 after a 差评's
    rectification."""
    ratings = engine().ratings
    if request.method == "GET":
        return _rate_page(request.args.get("case", "").strip().upper()[:40])
    case_no = request.form.get("case_no", "").strip().upper()[:40]
    code = normalize_query_code(request.form.get("query_code", ""))
    try:
        state = ratings.may_rate(case_no, code)
    except NotFound:
        return _rate_page(case_no, error=_("案件编号或查询码不正确"), status=404)
    if "level" not in request.form or not state["may_rate"]:
        return _rate_page(case_no, code, state)
    level, tags, comment = request.form.get("level", ""), request.form.getlist("tags"), request.form.get("comment", "")
    chosen = {"level": level, "tags": tags, "comment": comment}
    try:
        done = ratings.rate_online(case_no, code, level, tags, comment)
    except InvalidData as refused:
        return _rate_page(case_no, code, state, chosen=chosen, errors=refused.errors, status=422)
    except TaskConflict as conflict:
        return _rate_page(case_no, code, ratings.may_rate(case_no, code), error=conflict.message, status=409)
    return _rate_page(case_no, code, ratings.may_rate(case_no, code), done=done)


def _rate_page(case_no: str, code: str = "", state: dict[str, Any] | None = None, status: int = 200,
               **shown: Any) -> Any:
    html = render_template("portal/rate.html", case_no=case_no, query_code=code, state=state,
                           options=engine().ratings.options("portal"), chosen=shown.pop("chosen", {}),
                           errors=shown.pop("errors", {}), **{"error": None, "done": None, **shown})
    return private(current_app.make_response((html, status)))


# -- 救助公示 (R-6.2.1) ------------------------------------------------------------------------------

def _notice_filters() -> dict[str, str]:
    return {key: request.args.get(key, "").strip()[:60] for key in ("township", "village", "month")}


@bp.route("/notices")
def notices() -> Any:
    """The entries in their notice period (masked), filtered by township, village and month."""
    filters = _notice_filters()
    found = engine().publicity.listing(filters["township"], filters["village"], filters["month"],
                                       page_number(request.args))
    return render_template("portal/notices.html", notices=found, filters=filters,
                           **engine().queries.regions(active_only=False))


@bp.route("/notices/<int:notice_id>", methods=["GET", "POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def notice(notice_id: int) -> Any:
    """One entry and the objection form (异议, contact optional); the objection is the center's task."""
    try:
        entry = engine().publicity.entry(notice_id)
    except NotFound:
        return render_template("portal/notice.html", entry=None, errors={}, values={}), 404
    if request.method == "GET":
        return render_template("portal/notice.html", entry=entry, errors={}, values={})
    values = {"text": request.form.get("text", ""), "contact": request.form.get("contact", "")}
    try:
        engine().publicity.object(notice_id, values["text"], values["contact"])
    except InvalidData as refused:
        return render_template("portal/notice.html", entry=entry, errors=refused.errors, values=values), 422
    except NotDeployed as missing:
        return render_template("portal/notice.html", entry=entry, errors={"form": [missing.message]},
                               values=values), 503
    return render_template("portal/notice.html", entry=entry, errors={}, values={}, received=True)


# -- 投诉反馈 and 意见簿 (R-6.2.1, R-6.3.6) ---------------------------------------------------------------

def _complaint_form(values: dict[str, Any], errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    return render_template("portal/complaint.html", values=values, errors=errors or {},
                           options=engine().complaints.options()), status


@bp.route("/complaints", methods=["GET", "POST"])
@limiter.limit(_portal_rate_limit, methods=["POST"])
def complaint() -> Any:
    """投诉反馈: the form (anonymous allowed), and on success the complaint's number and query code (shown once)."""
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
@limiter.limit(_portal_rate_limit, methods=["POST"])
def complaint_query() -> Any:
    """A complaint's progress and reply by its number and query code; one message for every failure."""
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
@limiter.limit(_portal_rate_limit, methods=["POST"])
def suggestions() -> Any:
    """意见簿: the answered suggestions made public, newest answer first, and the form for a new one (the contact,
    optional, is never shown)."""
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
