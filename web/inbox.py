"""The inbox (我的待办 / 组内待办): filters, priority sort, pagination, saved filters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from engine.cases.inbox import parse_task_query
from engine.errors import InvalidData
from web.services import engine, principal, require

bp = Blueprint("inbox", __name__)
PER_PAGE = 20


@bp.route("/")
@login_required
def index() -> Any:
    """The task list of the signed-in user."""
    who = require("work_tasks")
    query = parse_task_query(request.args, per_page=PER_PAGE)
    found = engine().inbox.page(who, query)
    return render_template("inbox/index.html", query=query, params=query.as_params(), **found)


@bp.route("/inbox/bulk", methods=["POST"])
@login_required
def bulk() -> Any:
    """批量指派 / 批量退回 (supervisors): the ticked tasks, each through the one-task action; every outcome shown."""
    who = require("bulk_assign")
    back: dict[str, Any] = {k[5:]: v for k, v in request.form.items() if k.startswith("back_") and v}
    try:
        results = engine().bulk.run(who, request.form.get("action", ""), request.form.getlist("task_ids"),
                                    request.form.get("assignee", ""))
    except InvalidData as refused:
        flash("；".join(m for ms in refused.errors.values() for m in ms), "error")
        return redirect(url_for("inbox.index", **back))
    return render_template("inbox/bulk.html", results=results, back=back, action=request.form.get("action"),
                           assignee=request.form.get("assignee", "").strip())


@bp.route("/filters", methods=["POST"])
@login_required
def save_filter() -> Any:
    """Save the current filter under a name (replacing one of the same name)."""
    query = parse_task_query(MultiDict(request.form), per_page=PER_PAGE)
    name = request.form.get("filter_name", "")
    try:
        engine().inbox.save_filter(principal(), name, query)
    except InvalidData as refused:
        flash("；".join(m for ms in refused.errors.values() for m in ms), "error")
        return redirect(url_for("inbox.index", **query.as_params()))
    flash(_("已保存筛选条件：%(name)s", name=name.strip()), "success")
    return redirect(url_for("inbox.index", **query.as_params()))


@bp.route("/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Any:
    """Delete one of the user's saved filters."""
    if engine().inbox.delete_filter(principal(), filter_id):
        flash(_("已删除筛选条件"), "success")
    return redirect(url_for("inbox.index"))
