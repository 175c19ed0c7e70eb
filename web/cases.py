"""Case pages (案件查询): the searchable case list, one case's file, materials and unmasking."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.access import scoping
from engine.cases import materials
from engine.cases.case_query import filter_args
from engine.errors import Forbidden, InvalidData, NotFound, TaskConflict
from web.application_form import read_uploads
from web.presenters import download, private
from web.services import engine, page_number, principal, require, unmask_for_view

bp = Blueprint("cases", __name__, url_prefix="/cases")
PER_PAGE = 20


VIEWS = ("cases", "tasks")


def _query_page(export_errors: dict[str, list[str]] | None = None, status: int = 200,
                values: Any = None) -> Any:
    """The query page (案件查询) for the filter in `values` (the request's arguments): its cases, or with
    `view=tasks` the tasks of those cases the user may see; `export_errors` from a refused export."""
    values = request.args if values is None else values
    view = values.get("view") if values.get("view") in VIEWS else "cases"
    files = engine().files
    if view == "tasks":
        found = files.search_tasks(principal(), values, page_number(values), PER_PAGE)
    else:
        found = files.search(principal(), values, page_number(values), PER_PAGE)
    args = filter_args(found["filter"])
    html = render_template("cases/index.html", view=view, found=found["tasks" if view == "tasks" else "cases"],
                           f=found["filter"], args=args, page_args=dict(args, view=view) if view == "tasks" else args,
                           errors=found["errors"], choices=files.filter_choices(),
                           export_errors=export_errors or {}, reason=values.get("reason", "") if export_errors else "",
                           may_unmask=scoping.may(principal(), "unmask"))
    return html, status


@bp.route("/")
@login_required
def index() -> Any:
    """The query page: the cases this user may see, newest first, narrowed by the case filter
    (`engine.cases.case_query`), or their tasks (`view=tasks`); the export form below the filter."""
    return _query_page()


@bp.route("/export", methods=["POST"])
@login_required
def export() -> Any:
    """导出: the cases the posted filter names as CSV or XLSX, streamed (`engine.cases.export`); with
    `unmask` the full personal data, for a user who may and a reason. Audited when the download ends."""
    form = request.form
    try:
        found = engine().exports.export(principal(), form, form.get("format", ""), unmask=form.get("unmask") == "1",
                                        reason=form.get("reason"), translate=_)
    except Forbidden:
        abort(403)
    except InvalidData as refused:
        return _query_page(refused.errors or {"format": [refused.message]}, 422, values=form)
    return download(found)


def _render_case(case_no: str, unmasked: dict[str, str] | None = None,
                 unmask_errors: list[str] | None = None, status: int = 200, **archive_form: Any) -> Any:
    try:
        file = engine().files.case_file(principal(), case_no)
    except NotFound:
        abort(404)
    html = render_template("cases/show.html", **file, unmasked=unmasked, unmask_errors=unmask_errors, **archive_form,
                           unmask_url=url_for("cases.unmask", case_no=case_no),
                           may_attach=scoping.may(principal(), "attach_supplement"), **_upload_limits())
    return html, status


def _upload_limits() -> dict[str, int]:
    return {"max_files": materials.MAX_FILES, "max_mb": materials.MAX_FILE_BYTES // (1024 * 1024)}


@bp.route("/supplement", methods=["GET", "POST"])
@login_required
def supplement() -> Any:
    """补正 at any window (R-6.2.2): a clerk attaches what the applicant brought, by case number."""
    who = require("attach_supplement")
    case_no = (request.values.get("case_no") or "").strip().upper()[:40]
    if request.method == "GET":
        return render_template("cases/supplement.html", case_no=case_no, errors={}, note="", **_upload_limits())
    note = request.form.get("note", "")
    try:
        done = engine().supplements.attach_at_window(who, case_no, read_uploads(request.files.getlist("files")),
                                                     note)
    except NotFound:
        errors = {"case_no": [_("案件不存在：%(no)s", no=case_no or "—")]}
        return render_template("cases/supplement.html", case_no=case_no, errors=errors, note=note,
                               **_upload_limits()), 404
    except Forbidden:
        abort(403)
    except InvalidData as refused:
        return render_template("cases/supplement.html", case_no=case_no, errors=refused.errors, note=note,
                               **_upload_limits()), 422
    except TaskConflict as conflict:
        return render_template("cases/supplement.html", case_no=case_no, errors={"case_no": [conflict.message]},
                               note=note, **_upload_limits()), 409
    flash(_("已为案件 %(no)s 上传 %(n)s 个补正材料，案件回到审查", no=case_no, n=done["files"]), "success")
    return redirect(url_for("cases.supplement"))


@bp.route("/<case_no>")
@login_required
def show(case_no: str) -> Any:
    """One case: status, definition version, the case at a glance, open tasks, plans, results and history."""
    return _render_case(case_no)


@bp.route("/<case_no>/unmask", methods=["POST"])
@login_required
def unmask(case_no: str) -> Any:
    """The case page with the applicant's full ID, phone and address, for this view only."""
    unmasked, errors = unmask_for_view(case_no, request.form.get("reason", ""))
    html, status = _render_case(case_no, unmasked=unmasked, unmask_errors=errors, status=422 if errors else 200)
    return private(current_app.make_response((html, status)))


@bp.route("/<case_no>/attachments/<int:attachment_id>")
@login_required
def attachment(case_no: str, attachment_id: int) -> Any:
    """Download one uploaded material of a case in the user's scope (logged)."""
    try:
        found = engine().files.attachment(principal(), case_no, attachment_id)
    except NotFound:
        abort(404)
    return _stored_file(found)


def _stored_file(found: dict[str, Any]) -> Any:
    """A stored file the engine handed out (directory, stored name, type, download name), never cached."""
    response = send_from_directory(found["directory"], found["stored_name"], mimetype=found["content_type"],
                                   as_attachment=True, download_name=found["filename"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return private(response)


@bp.route("/<case_no>/archive/<int:version>/<any(pdf, manifest):kind>")
@login_required
def archive_file(case_no: str, version: int, kind: str) -> Any:
    """Download an archived version's PDF case file or its manifest (电子档案, logged)."""
    try:
        found = engine().archives.download(principal(), case_no, version, kind)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    return _stored_file(found)


@bp.route("/<case_no>/archive", methods=["POST"])
@login_required
def rearchive(case_no: str) -> Any:
    """重新归档: an administrator asks for a new archived version of an ended case, with a reason (logged)."""
    reason = request.form.get("reason", "")
    try:
        done = engine().archives.request_version(require("archive_rebuild"), case_no, reason)
    except NotFound:
        abort(404)
    except InvalidData as refused:
        return _render_case(case_no, status=422, archive_errors=refused.errors.get("reason", [refused.message]),
                            archive_reason=reason)
    except TaskConflict as refused:
        return _render_case(case_no, status=409, archive_errors=[refused.message], archive_reason=reason)
    flash(_("已申请重新归档，第 %(n)s 版将在几分钟内生成", n=done["version"]), "success")
    return redirect(url_for("cases.show", case_no=case_no) + "#case-archive")
