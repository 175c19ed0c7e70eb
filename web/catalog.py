"""The matter catalog in the workbench (事项清单 R-6.1.3.1, 审查标准 R-6.1.3.2): every member of staff
reads it; administrators create and edit matters, each material with an optional example image
(错误示例图片), see each revision's changes and restore one. A rejected form is shown again with everything
typed and the errors beside the fields. The example images are served to the public while a matter that
is not disabled refers to them (the portal's 服务指南), to staff while any matter does."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import FileStorage, MultiDict

from engine.access import scoping
from engine.cases.materials import Upload
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

bp = Blueprint("catalog", __name__)
BLANK_ROWS = 3  # empty material rows under the existing ones, for adding
MAX_ROWS = 60
TEXT_FIELDS = ("code", "name", "department", "assistance_type", "recipients", "procedure", "content", "basis",
               "process_key", "place", "retention", "status")
IMAGE_MAX_AGE = 3600  # seconds; a matter's image may stop being shown (disabled, removed) within that time


def _choices() -> dict[str, Any]:
    reference = settings().reference
    return {"departments": [(c, d["zh"]) for c, d in reference.departments().items()],
            "assistance_types": [(c, t["zh"]) for c, t in reference.assistance_types().items()],
            "statuses": STATUSES, "retentions": RETENTIONS, "forms": FORMS, "field_work": FIELD_WORK,
            "fields": FIELDS, "material_fields": MATERIAL_FIELDS,
            "image_max_mb": settings().catalog_image_max_bytes // (1024 * 1024)}


def _kept_image(form: MultiDict[str, str], prefix: str) -> dict[str, str] | None:
    """The example image a row keeps (its hidden reference), unless 删除图片 is ticked."""
    sha256 = form.get(prefix + "image_sha256", "").strip()
    if not sha256 or form.get(prefix + "remove_image") == "true":
        return None
    return {"sha256": sha256, "filename": form.get(prefix + "image_filename", "")}


def _chosen_image(files: MultiDict[str, FileStorage], prefix: str) -> Upload | None:
    """The example image chosen for a row (read to one byte over the limit), or None."""
    chosen = files.get(prefix + "image")
    if chosen is None or not chosen.filename:
        return None
    return Upload(chosen.filename, chosen.stream.read(settings().catalog_image_max_bytes + 1))


def matter_from_form(form: MultiDict[str, str], files: MultiDict[str, FileStorage] | None = None
                     ) -> tuple[dict[str, Any], dict[int, Upload]]:
    """The matter record a submitted edit form describes (not yet checked: the engine checks it), and the
    example images chosen, by the index of their material in the record."""
    files = files if files is not None else MultiDict()
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
        row["example_image"] = _kept_image(form, prefix)
        rows.append((row, _chosen_image(files, prefix)))
    rows.sort(key=lambda r: int(r[0]["order"]) if r[0]["order"].strip().isdigit() else MAX_ROWS)
    record["materials"] = [normal_material({k: v for k, v in r.items() if k != "order"}) for r, _upload in rows]
    return record, {index: upload for index, (_row, upload) in enumerate(rows) if upload is not None}


def _edit_page(matter: dict[str, Any], errors: dict[str, list[str]] | None = None, reason: str = "",
               creating: bool = False, status: int = 200, images: dict[int, Upload] | None = None) -> Any:
    """The edit form; after a refusal, `images` marks the rows whose chosen image must be chosen again."""
    rows = [*matter.get("materials", []), *([normal_material("")] * BLANK_ROWS)]
    return render_template("catalog/edit.html", matter=matter, rows=rows, errors=errors or {}, reason=reason,
                           creating=creating, images_lost=set(images or {}), **_choices()), status


@bp.route("/catalog/")
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


@bp.route("/catalog/<code>")
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


@bp.route("/catalog/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """Create a matter (administrators)."""
    who = require("catalog_edit")
    if request.method == "GET":
        return _edit_page(blank_record(), creating=True)
    (record, images), reason = matter_from_form(request.form, request.files), request.form.get("reason", "")
    try:
        saved = engine().catalog.save(who.username, record, reason, images=images)
    except InvalidData as refused:
        return _edit_page(record, refused.errors, reason, creating=True, status=422, images=images)
    flash(_("已新增事项：%(name)s", name=saved["name"]), "success")
    return redirect(url_for("catalog.show", code=saved["code"]))


@bp.route("/catalog/<code>/edit", methods=["GET", "POST"])
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
    (found, images), reason = matter_from_form(request.form, request.files), request.form.get("reason", "")
    record, revision = {**found, "code": code}, request.form.get("revision", "")
    try:
        saved = engine().catalog.save(who.username, record, reason, int(revision) if revision.isdigit() else -1,
                                      images)
    except InvalidData as refused:
        return _edit_page({**record, "revision": revision}, refused.errors, reason, status=422, images=images)
    except TaskConflict as conflict:
        return _edit_page({**record, "revision": revision}, {"_form": [conflict.message]}, reason, status=409,
                          images=images)
    flash(_("已保存第 %(n)s 版", n=saved["revision"]), "success")
    return redirect(url_for("catalog.show", code=code))


@bp.route("/catalog/<code>/revisions/<int:number>")
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


@bp.route("/catalog/<code>/revisions/<int:number>/restore", methods=["POST"])
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


@bp.route("/catalog/export.<kind>")
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


def _image(sha256: str, public: bool) -> Any:
    try:
        found = engine().catalog.example_image(sha256, public)
    except NotFound:
        abort(404)
    response = send_file(found.path, mimetype=found.mime, max_age=IMAGE_MAX_AGE, conditional=True, etag=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not public:  # an image only staff may see stays out of shared caches
        response.cache_control.public = False
        response.cache_control.private = True
    return response


@bp.route("/portal/catalog-image/<sha256>")
def public_image(sha256: str) -> Any:
    """An example image (错误示例图片) of a matter the portal shows (not 停用), without sign-in."""
    return _image(sha256, public=True)


@bp.route("/catalog/example-images/<sha256>")
@login_required
def image(sha256: str) -> Any:
    """An example image of any matter of the catalog, disabled ones included (staff)."""
    require("catalog")
    return _image(sha256, public=False)
