"""机构窗口 for administrators (/admin/orgs, R-6.1.4): every organisation with its window's address, opening
hours and phone, and the form that edits them; what is saved here is what 办事大厅 on the portal shows.
A refused form comes back with everything typed and the problem beside each field."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.access.orgs import KIND_LABELS, WINDOW_FIELDS, WINDOW_LABELS, WINDOW_LIMITS
from engine.access.scoping import WINDOW_LEVELS
from engine.errors import InvalidData, NotFound
from web.services import engine, page_number, require

bp = Blueprint("orgs_admin", __name__, url_prefix="/admin/orgs")


def _list_args(kind: str, page: int) -> dict[str, Any]:
    """The list's query arguments that differ from its first page of every kind (for links back to it)."""
    return {**({"kind": kind} if kind else {}), **({"page": page} if page > 1 else {})}


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "window_labels": WINDOW_LABELS, "limits": WINDOW_LIMITS,
            "window_kinds": WINDOW_LEVELS}


@bp.route("/")
@login_required
def index() -> Any:
    """The organisations (of one kind, `?kind=`), 20 a page, with their window details."""
    who = require("org_edit")
    kind = request.args.get("kind", "")
    found = engine().accounts.organisation_page(who, page_number(request.args), kind)
    return render_template("orgs_admin/index.html", orgs=found, kind=kind, back=_list_args(kind, found.page),
                           **_labels())


@bp.route("/<code>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str) -> Any:
    """Edit one organisation's window details; back to the list's page it was opened from (`?kind=&page=`)."""
    who = require("org_edit")
    try:
        org = engine().accounts.organisation(who, code)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return render_template("orgs_admin/edit.html", org=org, values=org, errors={}, **_labels())
    typed = {field: request.form.get(field, "") for field in WINDOW_FIELDS}
    try:
        saved = engine().accounts.set_window(who, code, typed)
    except InvalidData as refused:
        return render_template("orgs_admin/edit.html", org=org, values=typed, errors=refused.errors,
                               message=refused.message, **_labels()), 422
    if saved["changed"]:
        flash(_("已保存%(name)s的窗口信息", name=org["name"]), "success")
    else:
        flash(_("%(name)s的窗口信息没有变化", name=org["name"]), "info")
    back = _list_args(request.args.get("kind", ""), page_number(request.args))
    return redirect(url_for("orgs_admin.index", **back) + f"#org-{code}")
