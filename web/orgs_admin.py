"""机构管理 for administrators (/admin/orgs, R-6.1.4): the county's organisations — the center, departments, the
joint office, townships and villages — filtered by kind, parent and status, 20 a page; a new one; editing
one's name, parent, window (address, opening hours, phone: what 办事大厅 on the portal shows) and the matters
its window takes; deactivating (停用) and reactivating it. Organisations are never deleted (the rules are
`engine.access.admin`'s). A refused form comes back with everything typed and the problem beside each field."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.access.orgs import KIND_LABELS, ORG_KINDS, WINDOW_FIELDS, WINDOW_LABELS, WINDOW_LIMITS
from engine.access.scoping import WINDOW_LEVELS
from engine.errors import InvalidData, NotFound, TaskConflict
from web.services import engine, page_number, require

bp = Blueprint("orgs_admin", __name__, url_prefix="/admin/orgs")
FILTERS = ("kind", "parent", "status")


def _list_args(args: Any, page: int | None = None) -> dict[str, Any]:
    """The list's query arguments that differ from its first unfiltered page (for links back to it)."""
    found = {key: args.get(key) for key in FILTERS if args.get(key)}
    page = page if page is not None else page_number(args)
    return {**found, **({"page": page} if page > 1 else {})}


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "window_labels": WINDOW_LABELS, "limits": WINDOW_LIMITS,
            "window_kinds": WINDOW_LEVELS, "kinds": ORG_KINDS}


def _typed() -> dict[str, Any]:
    """The form's fields that were sent (a window-only form leaves name, parent and matters as they are)."""
    typed: dict[str, Any] = {f: request.form.get(f, "") for f in ("code", "name", "kind", "parent", *WINDOW_FIELDS)
                             if f in request.form}
    if request.form.get("matters_sent"):
        typed["matters"] = request.form.getlist("matters")
    return typed


@bp.route("/")
@login_required
def index() -> Any:
    """The organisations (`?kind=&parent=&status=`), 20 a page, with their windows and matters."""
    who = require("org_edit")
    args = request.args
    found = engine().administration.organisations(who, page_number(args), args.get("kind", ""),
                                                  args.get("parent", ""), args.get("status", ""))
    form = engine().administration.org_form(who)
    filters = {key: args.get(key, "") for key in FILTERS}
    return render_template("orgs_admin/index.html", orgs=found, kind=filters["kind"], filters=filters,
                           parents=form["parents"], back=_list_args(args, found.page),
                           pager_args={k: v for k, v in filters.items() if v}, **_labels())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """A new organisation: code, name, kind, parent, window details and matters."""
    who = require("org_edit")
    form = engine().administration.org_form(who)
    if request.method == "GET":
        values = {"kind": request.args.get("kind", ""), "parent": request.args.get("parent", ""), "matters": []}
        return render_template("orgs_admin/new.html", values=values, errors={}, **form, **_labels())
    typed = _typed()
    try:
        created = engine().administration.create_organisation(who, typed)
    except InvalidData as refused:
        return render_template("orgs_admin/new.html", values=typed, errors=refused.errors, message=refused.message,
                               **form, **_labels()), 422
    flash(_("已新建机构：%(name)s", name=created["name"]), "success")
    return redirect(url_for("orgs_admin.index", kind=created["kind"]) + f"#org-{created['code']}")


@bp.route("/<code>/edit", methods=["GET", "POST"])
@login_required
def edit(code: str) -> Any:
    """Edit one organisation; back to the list's page it was opened from (`?kind=&parent=&status=&page=`)."""
    who = require("org_edit")
    try:
        form = engine().administration.org_form(who, code)
    except NotFound:
        abort(404)
    org = form["org"]
    if request.method == "GET":
        return render_template("orgs_admin/edit.html", values=org, errors={}, **form, **_labels())
    typed = _typed()
    try:
        saved = engine().administration.edit_organisation(who, code, typed)
    except InvalidData as refused:
        return render_template("orgs_admin/edit.html", values={**org, **typed}, errors=refused.errors,
                               message=refused.message, **form, **_labels()), 422
    if saved["changed"]:
        flash(_("已保存%(name)s的窗口信息", name=saved["organisation"]["name"]), "success")
    else:
        flash(_("%(name)s的窗口信息没有变化", name=org["name"]), "info")
    return redirect(url_for("orgs_admin.index", **_list_args(request.args)) + f"#org-{code}")


@bp.route("/<code>/active", methods=["POST"])
@login_required
def set_active(code: str) -> Any:
    """停用 (`active=0`) or 启用 (`active=1`) an organisation."""
    who = require("org_edit")
    active = request.form.get("active") == "1"
    try:
        engine().administration.set_organisation_active(who, code, active)
    except NotFound:
        abort(404)
    except TaskConflict as refused:
        flash(refused.message, "error")
    else:
        flash(_("已启用该机构") if active else _("已停用该机构：不再受理新案件，窗口不在办事大厅显示"), "success")
    return redirect(url_for("orgs_admin.index", **_list_args(request.args)) + f"#org-{code}")
