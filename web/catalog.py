"""The matter catalog in the workbench (事项清单 R-6.1.3.1, 审查标准 R-6.1.3.2): every member of staff
reads it; administrators create and edit matters, see each revision's changes and restore one. A
rejected form is shown again with everything typed and the errors beside the fields."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from engine.access import scoping
from engine.catalog import exchange
from engine.catalog.records import (
    FIELD_WORK,
    FIELDS,
    FORMS,
    MATERIAL_FIELDS,
    RETENTIONS,
    STATUSES,
    blank_record,
    normal_material,
)
from engine.errors import InvalidData, NotFound, TaskConflict
from web.services import engine, principal, require, settings

bp = Blueprint("catalog", __name__, url_prefix="/catalog")
BLANK_ROWS = 3  # empty material rows under the existing ones, for adding
MAX_ROWS = 60
TEXT_FIELDS = ("code", "name", "department", "assistance_type", "recipients", "procedure", "content", "basis",
               "process_key", "place", "retention", "status")


def _choices() -> dict[str, Any]:
    reference = settings().reference
    return {"departments": [(c, d["zh"]) for c, d in reference.departments().items()],
            "assistance_types": [(c, t["zh"]) for c, t in reference.assistance_types().items()],
            "statuses": STATUSES, "retentions": RETENTIONS, "forms": FORMS, "field_work": FIELD_WORK,
            "fields": FIELDS, "material_fields": MATERIAL_FIELDS}


def matter_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The matter record a submitted edit form describes (not yet checked: the engine checks it)."""
    record: dict[str, Any] = {key: form.get(key, "") for key in TEXT_FIELDS}
    days = form.get("due_workdays", "").strip()
    record["due_workdays"] = None if days == "" else int(days) if days.lstrip("-").isdigit() else days
    record["noticed"] = form.get("noticed") == "true"
    rows = []
    for index in range(min(int(form.get("material_rows", "0") or 0), MAX_ROWS)):
        prefix = f"materials-{index}-"
        row: dict[str, Any] = {key: form.get(prefix + key, "") for key in (
            "name", "form", "points", "problems", "wrong_example", "field_work", "order")}
        if form.get(prefix + "delete") == "true" or not any(row[k].strip() for k in ("name", "points", "problems")):
            continue
        row["required"] = form.get(prefix + "required") == "true"
        rows.append(row)
    rows.sort(key=lambda r: int(r["order"]) if r["order"].strip().isdigit() else MAX_ROWS)
    record["materials"] = [normal_material({k: v for k, v in r.items() if k != "order"}) for r in rows]
    return record


def _edit_page(matter: dict[str, Any], errors: dict[str, list[str]] | None = None, reason: str = "",
               creating: bool = False, status: int = 200) -> Any:
    rows = [*matter.get("materials", []), *([normal_material("")] * BLANK_ROWS)]
    return render_template("catalog/edit.html", matter=matter, rows=rows, errors=errors or {}, reason=reason,
                           creating=creating, **_choices()), status


@bp.route("/")
@login_required
def index() -> Any:
    """The catalog, filtered by status and assistance type."""
    require("catalog")
    wanted_status, wanted_type = request.args.get("status", ""), request.args.get("type", "")
    matters = [m for m in engine().catalog.matters()
               if (not wanted_status or m["status"] == wanted_status)
               and (not wanted_type or m["assistance_type"] == wanted_type)]
    return render_template("catalog/index.html", matters=matters, status=wanted_status, type=wanted_type,
                           may_edit=scoping.may(principal(), "catalog_edit"), **_choices())


@bp.route("/<code>")
@login_required
def show(code: str) -> Any:
    """One matter: the standard's fields, each material's review standard, the revisions."""
    require("catalog")
    try:
        matter = engine().catalog.get(code)
        revisions = engine().catalog.revisions(code)
    except NotFound:
        abort(404)
    return render_template("catalog/show.html", matter=matter, revisions=revisions,
                           may_edit=scoping.may(principal(), "catalog_edit"), **_choices())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """Create a matter (administrators)."""
    who = require("catalog_edit")
    if request.method == "GET":
        return _edit_page(blank_record(), creating=True)
    record, reason = matter_from_form(request.form), request.form.get("reason", "")
    try:
        saved = engine().catalog.save(who.username, record, reason)
    except InvalidData as refused:
        return _edit_page(record, refused.errors, reason, creating=True, status=422)
    flash(_("已新增事项：%(name)s", name=saved["name"]), "success")
    return redirect(url_for("catalog.show", code=saved["code"]))


@bp.route("/<code>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str) -> Any:
    """Edit a matter from the revision shown (a stale form is refused, not saved over a newer one)."""
    who = require("catalog_edit")
    try:
        current = engine().catalog.get(code)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return _edit_page(current)
    record, reason = {**matter_from_form(request.form), "code": code}, request.form.get("reason", "")
    revision = request.form.get("revision", "")
    try:
        saved = engine().catalog.save(who.username, record, reason, int(revision) if revision.isdigit() else -1)
    except InvalidData as refused:
        return _edit_page({**record, "revision": revision}, refused.errors, reason, status=422)
    except TaskConflict as conflict:
        return _edit_page({**record, "revision": revision}, {"_form": [conflict.message]}, reason, status=409)
    flash(_("已保存第 %(n)s 版", n=saved["revision"]), "success")
    return redirect(url_for("catalog.show", code=code))


@bp.route("/<code>/revisions/<int:number>")
@login_required
def revision(code: str, number: int) -> Any:
    """What one revision changed, field by field."""
    require("catalog")
    try:
        found = engine().catalog.revision(code, number)
        matter = engine().catalog.get(code)
    except NotFound:
        abort(404)
    return render_template("catalog/revision.html", matter=matter, revision=found, errors={}, reason="",
                           may_edit=scoping.may(principal(), "catalog_edit"), **_choices())


@bp.route("/<code>/revisions/<int:number>/restore", methods=["POST"])
@login_required
def restore(code: str, number: int) -> Any:
    """Make an earlier revision current again (as a new revision, with a reason)."""
    who = require("catalog_edit")
    reason = request.form.get("reason", "")
    try:
        saved = engine().catalog.restore(who.username, code, number, reason)
    except NotFound:
        abort(404)
    except (InvalidData, TaskConflict) as refused:
        found, matter = engine().catalog.revision(code, number), engine().catalog.get(code)
        errors = refused.errors if isinstance(refused, InvalidData) else {"_form": [refused.message]}
        return render_template("catalog/revision.html", matter=matter, revision=found, errors=errors,
                               reason=reason, may_edit=True, **_choices()), 422
    flash(_("已恢复第 %(old)s 版的内容，成为第 %(n)s 版", old=number, n=saved["revision"]), "success")
    return redirect(url_for("catalog.show", code=code))


@bp.route("/export.<kind>")
@login_required
def export(kind: str) -> Any:
    """The catalog as a file for review in a spreadsheet (xlsx) or as YAML."""
    require("catalog")
    if kind not in ("xlsx", "yaml"):
        abort(404)
    content = exchange.dump(engine().catalog.export(), kind)
    mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if kind == "xlsx"
                else "application/yaml")
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=matters.{kind}"
    return response
