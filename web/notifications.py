"""Notifications: the bell in the header, the user's in-app notices, and failed deliveries (admins)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from web.services import engine, page_number, principal, require

bp = Blueprint("notifications", __name__)
PER_PAGE = 20


@bp.app_context_processor
def bell() -> dict[str, Any]:
    """Give templates `unread_notifications()`, the signed-in user's unread count (queried on use)."""

    def unread_notifications() -> int | None:
        if not current_user.is_authenticated:
            return None
        try:
            return engine().outbox.unread(current_user.principal.username)
        except SQLAlchemyError:
            # The header must not break the page around it (error pages included).
            current_app.logger.exception("unread notification count failed")
            return None

    return {"unread_notifications": unread_notifications}


def _link(notice: dict[str, Any]) -> str | None:
    if notice["kind"] == "audit_broken":  # the daily check found the audit log's chain broken
        return url_for("audit_admin.index")
    task_id = (notice["details"] or {}).get("task_id")
    if task_id:
        return url_for("tasks.show", task_id=task_id)
    return url_for("cases.show", case_no=notice["case_no"]) if notice["case_no"] else None


@bp.route("/notifications")
@login_required
def index() -> Any:
    """The signed-in user's in-app notices, newest first."""
    found = engine().outbox.notices(principal().username, page_number(request.args), PER_PAGE)
    for row in found.items:
        row["link"] = _link(row)
    return render_template("notifications/index.html", notices=found, unread=found.extra["unread"])


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read() -> Any:
    """Mark one notice (`id`) or all of them (`all`) read."""
    everything = bool(request.form.get("all"))
    engine().outbox.mark_read(principal().username, "all" if everything else request.form.getlist("id", type=int))
    if everything:
        flash(_("已全部标为已读"), "success")
    return redirect(url_for("notifications.index", page=request.form.get("page", type=int)))


@bp.route("/notifications/failed")
@login_required
def failed() -> Any:
    """SMS and 12345 deliveries that failed or wait for a retry (administrators)."""
    found = engine().outbox.failed(require("deliveries"), page_number(request.args), PER_PAGE)
    return render_template("notifications/failed.html", deliveries=found)


@bp.route("/notifications/failed/<int:notification_id>/retry", methods=["POST"])
@login_required
def retry(notification_id: int) -> Any:
    """Send a failed notice again (attempts start over) at the sender's next run."""
    if engine().outbox.retry(require("deliveries"), notification_id):
        flash(_("已重新排入发送队列，将在下次发送时重试"), "success")
    else:
        flash(_("该通知已发送或不存在，无需重新发送"), "error")
    return redirect(url_for("notifications.failed"))
