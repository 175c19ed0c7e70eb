"""The portal's content pages (门户内容, R-6.2.1): what the public reads and what administrators edit.

The portal, without sign-in: 政策法规 (`/portal/policies`, newest first, and each document with its PDF
as a download) and 中心简介 (`/portal/about`; any other page by its slug under `/portal/pages/`). Only
what is published shows there. Administrators (`/admin/content`) create and edit policy documents and
pages, withdraw and publish them again, compare any two revisions and restore an earlier one; every
change asks for a reason and is kept as a revision (`engine.content.publishing`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.cases.materials import Upload
from engine.content.publishing import StoredPdf
from engine.content.records import ABOUT, ACTION_LABELS, FIELDS, KIND_LABELS, LIMITS, PAGE, POLICY
from engine.errors import InvalidData, NotFound
from engine.status import CONTENT_STATUSES, PUBLISHED
from web.services import engine, page_number, require, settings

bp = Blueprint("content", __name__)
# The URL's word for each kind of item.
KINDS = {"policies": POLICY, "pages": PAGE}
FORM_FIELDS = {POLICY: ("title", "doc_number", "issuer", "issued_on", "body"), PAGE: ("slug", "title", "body")}


def _labels() -> dict[str, Any]:
    """What every administrator page names things with (translated when rendered)."""
    return {"kind_labels": KIND_LABELS, "fields": FIELDS, "action_labels": ACTION_LABELS,
            "status_labels": CONTENT_STATUSES, "limits": LIMITS, "max_mb": settings().content_pdf_max_bytes >> 20}


def _download(stored: StoredPdf) -> Any:
    response = send_from_directory(stored.path.parent, stored.path.name, mimetype="application/pdf",
                                   as_attachment=True, download_name=stored.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- the portal -------------------------------------------------------------------------------


@bp.route("/portal/policies")
def policies() -> Any:
    """政策法规: the published policy documents, newest first, 20 a page."""
    return render_template("portal/policies.html", policies=engine().content.published_policies(
        page_number(request.args)))


@bp.route("/portal/policies/<int:policy_id>")
def policy(policy_id: int) -> Any:
    """One published policy document: its particulars, its text and its PDF."""
    try:
        document = engine().content.published_policy(policy_id)
    except NotFound:
        abort(404)
    return render_template("portal/policy.html", document=document)


@bp.route("/portal/policies/<int:policy_id>/pdf")
def policy_pdf(policy_id: int) -> Any:
    """The PDF of a published policy document, as a download."""
    try:
        return _download(engine().content.published_pdf(policy_id))
    except NotFound:
        abort(404)


@bp.route("/portal/about", defaults={"slug": ABOUT})
@bp.route("/portal/pages/<slug>")
def portal_page(slug: str) -> Any:
    """中心简介 (`about`) or another published portal page; not published yet answers 404 saying so."""
    try:
        return render_template("portal/page.html", page=engine().content.published_page(slug))
    except NotFound:
        return render_template("portal/page.html", page=None, about=slug == ABOUT), 404


# -- administrators ---------------------------------------------------------------------------


@bp.route("/admin/content")
@login_required
def index() -> Any:
    """Every policy document (a page of them) and every portal page, with their status and revision."""
    found = engine().content.overview(require("content"), page_number(request.args))
    return render_template("content/index.html", **found, **_labels())


def _form_values(kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: request.form.get(name, "") for name in FORM_FIELDS[kind]}
    values["remove_pdf"] = request.form.get("remove_pdf") == "1"
    return values


def _upload(kind: str) -> Upload | None:
    """The chosen PDF (read to one byte over the limit), or None."""
    chosen = request.files.get("pdf")
    if kind != POLICY or chosen is None or not chosen.filename:
        return None
    return Upload(chosen.filename, chosen.stream.read(settings().content_pdf_max_bytes + 1))


def _editor(kinds: str, item_id: int | None, values: dict[str, Any] | None = None,
            errors: dict[str, list[str]] | None = None, code: int = 200, reason: str = "") -> Any:
    """The create or edit page: the form (with what was typed when refused) and, for an item, its status."""
    kind = KINDS[kinds]
    page: dict[str, Any] = {"item": None, "record": None, "revisions": []}
    if item_id is not None:
        try:
            page = engine().content.item(require("content"), kind, item_id)
        except NotFound:
            abort(404)
    shown = values if values is not None else dict(page["record"] or {})
    return render_template("content/edit.html", kinds=kinds, kind=kind, values=shown, errors=errors or {},
                           reason=reason, **page, **_labels()), code


@bp.route("/admin/content/<any(policies, pages):kinds>/new", methods=["GET", "POST"])
@login_required
def new(kinds: str) -> Any:
    """Create a policy document or a page; it is published at once as revision 1."""
    who, kind = require("content"), KINDS[kinds]
    if request.method == "GET":
        return _editor(kinds, None)
    values, reason = _form_values(kind), request.form.get("reason", "")
    try:
        item_id = engine().content.create(who, kind, values, _upload(kind), reason)
    except InvalidData as refused:
        return _editor(kinds, None, values, refused.errors, 422, reason)
    flash(_("已发布（第 1 版）"), "success")
    return redirect(url_for("content.edit", kinds=kinds, item_id=item_id))


@bp.route("/admin/content/<any(policies, pages):kinds>/<int:item_id>", methods=["GET", "POST"])
@login_required
def edit(kinds: str, item_id: int) -> Any:
    """Edit an item: saved with a reason as its next revision, then its diff is shown."""
    who, kind = require("content"), KINDS[kinds]
    if request.method == "GET":
        return _editor(kinds, item_id)
    values, reason = _form_values(kind), request.form.get("reason", "")
    try:
        revision = engine().content.edit(who, kind, item_id, values, reason, _upload(kind),
                                         request.form.get("based_on", type=int))
    except NotFound:
        abort(404)
    except InvalidData as refused:
        return _editor(kinds, item_id, values, refused.errors, 422, reason)
    flash(_("已保存为第 %(n)s 版", n=revision), "success")
    return redirect(url_for("content.revisions", kinds=kinds, item_id=item_id))


@bp.route("/admin/content/<any(policies, pages):kinds>/<int:item_id>/status", methods=["POST"])
@login_required
def change_status(kinds: str, item_id: int) -> Any:
    """Withdraw an item from the portal (撤回) or publish it again, with a reason."""
    who, kind = require("content"), KINDS[kinds]
    status, reason = request.form.get("status", ""), request.form.get("reason", "")
    try:
        engine().content.set_status(who, kind, item_id, status, reason)
    except NotFound:
        abort(404)
    except InvalidData as refused:
        errors = {"status": [m for messages in refused.errors.values() for m in messages]}
        return _editor(kinds, item_id, errors=errors, code=422)
    flash(_("已发布，门户中可以看到") if status == PUBLISHED else _("已撤回，门户中不再显示"), "success")
    return redirect(url_for("content.edit", kinds=kinds, item_id=item_id))


def _history(kinds: str, item_id: int, errors: dict[str, list[str]] | None = None, code: int = 200) -> Any:
    try:
        page = engine().content.compare(require("content"), KINDS[kinds], item_id,
                                        request.args.get("from", type=int), request.args.get("to", type=int))
    except NotFound:
        abort(404)
    return render_template("content/revisions.html", kinds=kinds, kind=KINDS[kinds], errors=errors or {},
                           form=request.form, **page, **_labels()), code


@bp.route("/admin/content/<any(policies, pages):kinds>/<int:item_id>/revisions")
@login_required
def revisions(kinds: str, item_id: int) -> Any:
    """Every revision (who, when, why) and the diff between two of them (default: the last change)."""
    return _history(kinds, item_id)


@bp.route("/admin/content/<any(policies, pages):kinds>/<int:item_id>/restore", methods=["POST"])
@login_required
def restore(kinds: str, item_id: int) -> Any:
    """Restore an earlier revision's content as a new revision, with a reason."""
    who = require("content")
    revision = request.form.get("revision", type=int) or 0
    try:
        new_revision = engine().content.restore(who, KINDS[kinds], item_id, revision, request.form.get("reason", ""))
    except NotFound:
        abort(404)
    except InvalidData as refused:
        return _history(kinds, item_id, {"restore": [m for ms in refused.errors.values() for m in ms]}, 422)
    flash(_("已将第 %(old)s 版恢复为第 %(n)s 版", old=revision, n=new_revision), "success")
    return redirect(url_for("content.revisions", kinds=kinds, item_id=item_id))


@bp.route("/admin/content/policies/<int:item_id>/pdf")
@login_required
def admin_pdf(item_id: int) -> Any:
    """The current PDF of any policy document, withdrawn ones included."""
    try:
        return _download(engine().content.pdf(require("content"), item_id))
    except NotFound:
        abort(404)
