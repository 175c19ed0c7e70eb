"""用户管理 for administrators (/admin/users, R-6.1.4): the users searched and filtered by organisation, role and
status with their last sign-in, 20 a page; a new user; editing one (name, organisation, roles, supervisor and
unmask permissions); disabling and enabling; a password reset (the temporary password shown once, changed at
the next sign-in); and the bulk import from CSV or XLSX with its template. The engine audits every change."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.access.user_import import template
from engine.access.users import USER_STATUSES
from engine.errors import InvalidData, NotFound, TaskConflict
from web.presenters import private
from web.services import engine, page_number, require, settings

bp = Blueprint("users_admin", __name__, url_prefix="/admin/users")
FILTERS = ("q", "org", "role", "status")


def _choices() -> dict[str, Any]:
    orgs = engine().accounts.organisations()
    return {"orgs": orgs, "org_names": {o["code"]: o["name"] for o in orgs},
            "roles": {code: r["zh"] for code, r in settings().reference.roles().items()}, "statuses": USER_STATUSES}


def _typed() -> dict[str, Any]:
    return {"username": request.form.get("username", "").strip(), "display_name": request.form.get("display_name", ""),
            "org_code": request.form.get("org_code", ""), "roles": request.form.getlist("roles"),
            "is_supervisor": bool(request.form.get("is_supervisor")),
            "can_unmask": bool(request.form.get("can_unmask")),
            "password": request.form.get("password", "")}


def _shown_once(page: str, status: int = 200) -> Response:
    return private(current_app.make_response((page, status)))


@bp.route("/")
@login_required
def index() -> Any:
    """The users (`?q=&org=&role=&status=`), 20 a page."""
    who = require("users_admin")
    filters = {key: request.args.get(key, "") for key in FILTERS}
    found = engine().administration.users(who, page_number(request.args), filters["q"], filters["org"],
                                          filters["role"], filters["status"])
    return render_template("users_admin/index.html", users=found, filters=filters,
                           pager_args={k: v for k, v in filters.items() if v}, **_choices())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """A new user; the temporary password (typed or generated) is shown once."""
    who = require("users_admin")
    if request.method == "GET":
        values = {"org_code": request.args.get("org", ""), "roles": request.args.getlist("role")}
        return render_template("users_admin/new.html", values=values, errors={}, **_choices())
    typed = _typed()
    try:
        created = engine().administration.create_user(who, typed)
    except InvalidData as refused:
        return render_template("users_admin/new.html", values=typed, errors=refused.errors, message=refused.message,
                               **_choices()), 422
    return _shown_once(render_template("users_admin/password.html", username=created["username"],
                                       password=created["password"], created=True))


@bp.route("/<username>/edit", methods=["GET", "POST"])
@login_required
def edit(username: str) -> Any:
    """Edit a user's name, organisation, roles and permissions."""
    who = require("users_admin")
    try:
        user = engine().administration.user(who, username)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return render_template("users_admin/edit.html", user=user, values=user, errors={}, **_choices())
    typed = {k: v for k, v in _typed().items() if k not in ("username", "password")}
    try:
        changes = engine().administration.edit_user(who, username, typed)
    except InvalidData as refused:
        return render_template("users_admin/edit.html", user=user, values={**user, **typed}, errors=refused.errors,
                               message=refused.message, **_choices()), 422
    flash(_("已保存用户 %(name)s", name=username) if changes else _("用户 %(name)s 没有变化", name=username),
          "success" if changes else "info")
    return redirect(url_for("users_admin.index", q=username))


@bp.route("/<username>/active", methods=["POST"])
@login_required
def set_active(username: str) -> Any:
    """停用 (`active=0`) or 启用 (`active=1`) a user."""
    who = require("users_admin")
    active = request.form.get("active") == "1"
    try:
        engine().administration.set_user_active(who, username, active)
    except NotFound:
        abort(404)
    except TaskConflict as refused:
        flash(refused.message, "error")
    else:
        flash(_("已启用用户 %(name)s", name=username) if active else
              _("已停用用户 %(name)s：不能再登录，已登录的会话和接口令牌立即失效", name=username), "success")
    return redirect(url_for("users_admin.index", q=username))


@bp.route("/<username>/password", methods=["POST"])
@login_required
def reset_password(username: str) -> Any:
    """Reset a user's password (typed, else generated); shown once, to change at the next sign-in."""
    who = require("users_admin")
    try:
        password = engine().administration.reset_password(who, username, request.form.get("password", "") or None)
    except NotFound:
        abort(404)
    except InvalidData as refused:
        flash("；".join(m for ms in refused.errors.values() for m in ms), "error")
        return redirect(url_for("users_admin.edit", username=username))
    return _shown_once(render_template("users_admin/password.html", username=username, password=password,
                                       created=False))


@bp.route("/import", methods=["GET", "POST"])
@login_required
def bulk_import() -> Any:
    """批量导入 from a CSV or XLSX file: every row checked first; nothing imported when one is refused."""
    who = require("users_admin")
    if request.method == "GET":
        return render_template("users_admin/import.html", errors={}, created=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("users_admin/import.html", errors={"_file": [_("请选择要上传的文件")]},
                               message=_("没有文件"), created=None), 422
    try:
        created = engine().administration.import_users(who, upload.filename, upload.read())
    except InvalidData as refused:
        return render_template("users_admin/import.html", errors=refused.errors, message=refused.message,
                               created=None), 422
    return _shown_once(render_template("users_admin/import.html", errors={}, created=created))


@bp.route("/import/template.<kind>")
@login_required
def import_template(kind: str) -> Any:
    """The import template (template.csv or template.xlsx)."""
    require("users_admin")
    if kind not in ("csv", "xlsx"):
        abort(404)
    mimetype = ("text/csv; charset=utf-8" if kind == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(template(kind), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=users-template.{kind}"})
