"""Case pages (案件查询): the searchable case list, one case's file, materials and unmasking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory, url_for
from flask_login import login_required

from engine import clock
from engine.bpmn import forms
from engine.cases import casefile
from engine.cases.inbox import search_cases
from engine.errors import Forbidden, InvalidData, NotFound
from web.form_render import display
from web.inbox import due_label
from web.services import page_args, principal, transaction

bp = Blueprint("cases", __name__, url_prefix="/cases")
PER_PAGE = 20
MAX_SEARCH = 100


@bp.app_template_filter("local_time")
def local_time(value: Any) -> str:
    """Jinja filter: a UTC moment (datetime or ISO text) as local 'YYYY-MM-DD HH:MM'."""
    return casefile.local_time(value)


def with_result_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add (label, text) rows, from each result's form schema, for the results partial."""
    for result in results:
        try:
            result["rows"] = display(forms.load_schema(result["form_key"]), result["data"])
        except (forms.UnknownFormError, forms.FormSchemaError):
            result["rows"] = [(key, str(value)) for key, value in result["data"].items()]
    return results


def private(response: Any) -> Any:
    """Keep a response with full personal data out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
@login_required
def index() -> Any:
    """The cases this user may see, newest first, searchable by case number or request text."""
    who = principal()
    text = request.args.get("q", "").strip()[:MAX_SEARCH]
    page, per_page = page_args(request.args, PER_PAGE)
    with transaction() as session:
        rows, total = search_cases(session.connection(), who, text, page, per_page)
    for row in rows:
        row["status_label"] = casefile.STATUS_LABELS.get(row["status"], row["status"])
        row["channel_label"] = casefile.CHANNEL_LABELS.get(row["channel"], row["channel"])
    pages = max(1, (total + per_page - 1) // per_page)
    return render_template("cases/index.html", rows=rows, total=total, q=text, page=page, pages=pages)


def _render_case(case_no: str, unmasked: dict[str, str] | None = None,
                 unmask_errors: list[str] | None = None, status: int = 200) -> Any:
    who = principal()
    with transaction() as session:
        try:
            file = casefile.case_file(session, who, case_no)
        except NotFound:
            abort(404)
    now = clock.now()
    for task in file["open_tasks"]:
        task["due_label"], task["due_class"] = due_label(task["due_at"], now)
    with_result_rows(file["results"])
    html = render_template("cases/show.html", **file, unmasked=unmasked, unmask_errors=unmask_errors,
                           unmask_url=url_for("cases.unmask", case_no=case_no))
    return html, status


@bp.route("/<case_no>")
@login_required
def show(case_no: str) -> Any:
    """One case: status, definition version, the case at a glance, open tasks and full history."""
    return _render_case(case_no)


def unmask_or_abort(case_no: str) -> tuple[dict[str, str] | None, list[str] | None]:
    """Unmask the applicant of a case for this response (logged); 403/404 when not allowed."""
    who = principal()
    try:
        with transaction() as session:
            return casefile.unmask_applicant(session, who, case_no, request.form.get("reason", ""), clock.now()), None
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except InvalidData as err:
        return None, err.errors.get("reason", [err.message])


@bp.route("/<case_no>/unmask", methods=["POST"])
@login_required
def unmask(case_no: str) -> Any:
    """The case page with the applicant's full ID, phone and address, for this view only."""
    unmasked, errors = unmask_or_abort(case_no)
    html, status = _render_case(case_no, unmasked=unmasked, unmask_errors=errors, status=422 if errors else 200)
    return private(current_app.make_response((html, status)))


@bp.route("/<case_no>/attachments/<int:attachment_id>")
@login_required
def attachment(case_no: str, attachment_id: int) -> Any:
    """Download one uploaded material of a case in the user's scope (logged)."""
    who = principal()
    try:
        with transaction() as session:
            found = casefile.attachment_for_download(session, who, case_no, attachment_id, clock.now())
    except NotFound:
        abort(404)
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    if not (upload_dir / found["stored_name"]).is_file():
        abort(404)
    response = send_from_directory(upload_dir, found["stored_name"], mimetype=found["content_type"],
                                   as_attachment=True, download_name=found["filename"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return private(response)
