"""Window registration (窗口登记, R-5.1.1): consultations and applications at county/township/village
windows, with uploaded materials (R-6.1.2.2) and a printable receipt (回执).

The application form's parsing and submission are shared with the public portal (`web.portal`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from engine import clock, reference
from engine.access import personal_data
from engine.access.accounts import Principal
from engine.cases import materials
from engine.cases.consultations import region_errors, register_consultation
from engine.cases.inbox import visible_case
from engine.cases.intake import LOCAL_TZ, applicant_errors
from engine.errors import InvalidData, NotDeployed
from engine.models import Application, Organisation, User
from web.services import case_engine, principal, require_role, transaction

bp = Blueprint("intake", __name__, url_prefix="/intake")

# A clerk registers at the level of their own organisation (R-6.1.4 three-level windows).
LEVEL_OF_ORG_KIND = {"center": "county", "township": "township", "village": "village"}
TEXT_FIELDS = ("name", "id_number", "phone", "township", "village", "address", "request", "question", "answer")
MAX_TEXT = 5000  # read at most this much of a field; the limits below say what is accepted
# Column sizes of the application table; longer input is refused rather than cut.
MAX_LENGTHS = {"name": 50, "address": 300, "request": 2000}


def read_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted values, trimmed, as the form re-renders them."""
    values: dict[str, Any] = {key: form.get(key, "").strip()[:MAX_TEXT] for key in TEXT_FIELDS}
    values["kind"] = "consultation" if form.get("kind") == "consultation" else "application"
    values["matters"] = list(dict.fromkeys(m for m in form.getlist("matters") if m))[:50]
    values["green_channel"] = form.get("green_channel") == "1"
    return values


def applicant_of(values: dict[str, Any]) -> dict[str, Any]:
    """The applicant record `CaseEngine.start_case` takes, from form values."""
    return {"name": values["name"], "id_number": values["id_number"], "phone": values["phone"],
            "region": {"township": values["township"], "village": values["village"] or None},
            "address": values["address"], "request": values["request"], "matters": values["matters"]}


def read_uploads(files: list[FileStorage]) -> list[materials.Upload]:
    """The chosen files (empty file inputs skipped), each read to at most one byte over the limit."""
    return [materials.Upload(f.filename or "", f.stream.read(materials.MAX_FILE_BYTES + 1))
            for f in files if f and f.filename]


def _application_errors(values: dict[str, Any], uploads: list[materials.Upload], channel: str,
                        level: str) -> tuple[dict[str, list[str]], list[materials.Material]]:
    with transaction() as session:
        errors = region_errors(session, values["township"], values["village"] or None)
    for key, limit in MAX_LENGTHS.items():
        if len(values[key]) > limit:
            errors[key] = [_("不能超过 %(n)s 个字", n=limit)]
    for key, messages in applicant_errors(applicant_of(values), channel, level).items():
        errors.setdefault("township" if key == "region.township" else key, messages)
    checked: list[materials.Material] = []
    try:
        checked = materials.check_uploads(uploads)
    except InvalidData as refused:
        errors.update(refused.errors)
    return errors, checked


def submit_application(values: dict[str, Any], uploads: list[materials.Upload], *, channel: str, level: str,
                       actor: str, org: str | None = None, query_code: str | None = None,
                       extra_errors: dict[str, list[str]] | None = None) -> str:
    """Check everything (files included) before starting the case; store the files; return the case number."""
    errors, checked = _application_errors(values, uploads, channel, level)
    errors.update(extra_errors or {})
    if errors:
        raise InvalidData(_("登记信息有误，请按提示修改后重新提交"), errors)
    materials.save_files(Path(current_app.config["UPLOAD_DIR"]), checked)
    case_no, _instance = case_engine().start_case(
        applicant_of(values), channel=channel, level=level, green_channel=values["green_channel"],
        actor=actor, org=org, query_code=query_code, attachments=[m.record() for m in checked])
    return case_no


def form_choices() -> dict[str, Any]:
    """Townships and villages for the region selects, the matter catalog and the upload limits."""
    with transaction() as session:
        orgs = session.scalars(select(Organisation).where(Organisation.kind.in_(("township", "village")))
                               .order_by(Organisation.code)).all()
        townships = [(o.code, o.name) for o in orgs if o.kind == "township"]
        villages = [(o.code, o.name, o.parent_code) for o in orgs if o.kind == "village"]
    matters = [(code, m["name"]) for code, m in reference.matters().items()]
    return {"townships": townships, "villages": villages, "matters": matters, "max_files": materials.MAX_FILES,
            "max_mb": materials.MAX_FILE_BYTES // (1024 * 1024)}


def _clerk_level() -> tuple[Principal, str]:
    who = require_role("clerk")
    level = LEVEL_OF_ORG_KIND.get(who.org_kind)
    if level is None:
        abort(403)
    return who, level


def _own_region(who: Principal) -> dict[str, str]:
    if who.org_kind == "village":
        return {"township": who.org_parent or "", "village": who.org_code}
    if who.org_kind == "township":
        return {"township": who.org_code, "village": ""}
    return {"township": "", "village": ""}


def _render_new(values: dict[str, Any], level: str, errors: dict[str, list[str]] | None = None,
                status: int = 200, files_lost: bool = False) -> Any:
    return render_template("intake/new.html", values=values, errors=errors or {}, level=level,
                           files_lost=files_lost, **form_choices()), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """The registration form of a window clerk: a consultation or an application."""
    who, level = _clerk_level()
    if request.method == "GET":
        values = read_form(MultiDict({"kind": request.args.get("kind", "application"), **_own_region(who)}))
        return _render_new(values, level)
    values = read_form(request.form)
    if values["kind"] == "consultation":
        return _register_consultation(who, values, level)
    uploads = read_uploads(request.files.getlist("files"))
    try:
        case_no = submit_application(values, uploads, channel="window", level=level, actor=who.username,
                                     org=who.org_code)
    except InvalidData as refused:
        return _render_new(values, level, refused.errors, 422, files_lost=bool(uploads))
    except NotDeployed as missing:
        flash(missing.message, "error")
        return _render_new(values, level, status=503, files_lost=bool(uploads))
    return redirect(url_for("intake.receipt", case_no=case_no))


def _register_consultation(who: Principal, values: dict[str, Any], level: str) -> Any:
    try:
        with transaction() as session:
            register_consultation(session, values, who.username, who.org_code, clock.now())
    except InvalidData as refused:
        return _render_new(values, level, refused.errors, 422)
    flash(_("咨询登记已保存：%(name)s，无需启动救助流程。", name=personal_data.mask_name(values["name"])), "success")
    return redirect(url_for("intake.new", kind="consultation"))


def _triage_deadline(case_no: str, created: datetime) -> tuple[int, str] | None:
    """(working days, local due date) of the case's open triage step, if it is still open."""
    triage = [t for t in case_engine().list_tasks(case_no=case_no) if t["form_key"] == "triage" and t["due_at"]]
    if not triage:
        return None
    due_day = datetime.fromisoformat(triage[0]["due_at"]).astimezone(LOCAL_TZ).date()
    days = case_engine().calendar.workdays_between(created.astimezone(LOCAL_TZ).date(), due_day)
    return max(days, 0), due_day.isoformat()


def _place(names: dict[str, str], township: str, village: str | None) -> str:
    town = names.get(township, township)
    place = names.get(village, village) if village else ""
    # Village names often repeat their township's (城东街道东湖社区); say it once.
    return place if place.startswith(town) else f"{town} {place}".strip()


def _receipt_facts(case_no: str) -> dict[str, Any]:
    with transaction() as session:
        if not visible_case(session.connection(), principal(), case_no):
            abort(404)
        app_row = session.scalar(select(Application).where(Application.case_no == case_no))
        if app_row is None:
            abort(404)
        clerk = session.scalar(select(User).where(User.username == app_row.registered_by))
        names = {o.code: o.name for o in session.scalars(select(Organisation).where(Organisation.code.in_(
            [c for c in (app_row.registered_org, app_row.township, app_row.village) if c])))}
        attached = materials.attachments_of(session, case_no)
    catalog = reference.matters()
    return {
        "case_no": case_no, "created_at": app_row.created_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        "level": app_row.level, "window": names.get(app_row.registered_org or "", app_row.registered_org or ""),
        "clerk": clerk.display_name if clerk else (app_row.registered_by or ""),
        "name": personal_data.mask_name(app_row.applicant_name),
        "id_number": personal_data.mask_id_number(app_row.id_number),
        "phone": personal_data.mask_phone(app_row.phone),
        "region": _place(names, app_row.township, app_row.village),
        "request": app_row.request, "green_channel": app_row.green_channel,
        "matters": [catalog.get(m, {}).get("name", m) for m in app_row.matters or []],
        "materials": attached, "triage": _triage_deadline(case_no, app_row.created_at),
    }


@bp.route("/receipt/<case_no>")
@login_required
def receipt(case_no: str) -> Any:
    """The printable receipt (回执) of a registered application; 404 outside the user's scope."""
    return render_template("intake/receipt.html", r=_receipt_facts(case_no))
