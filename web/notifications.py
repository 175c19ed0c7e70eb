"""Notifications: the bell in the header, the user's in-app notices, and failed deliveries (admins)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from engine import clock
from engine.notify import outbox
from web.services import page_args, principal, require_role, transaction

bp = Blueprint("notifications", __name__)
PER_PAGE = 20


@bp.app_context_processor
def bell() -> dict[str, Any]:
    """Give templates `unread_notifications()`, the signed-in user's unread count (queried on use)."""

    def unread_notifications() -> int | None:
        if not current_user.is_authenticated:
            return None
        try:
            with transaction() as session:
                return outbox.unread_count(session.connection(), current_user.principal.username)
        except SQLAlchemyError:
            # The header must not break the page around it (error pages included).
            current_app.logger.exception("unread notification count failed")
            return None

    return {"unread_notifications": unread_notifications}


def _link(notice: dict[str, Any]) -> str | None:
    task_id = (notice["details"] or {}).get("task_id")
    if task_id:
        return url_for("tasks.show", task_id=task_id)
    return url_for("cases.show", case_no=notice["case_no"]) if notice["case_no"] else None


@bp.route("/notifications")
@login_required
def index() -> Any:
    """The signed-in user's in-app notices, newest first."""
    who = principal()
    page, per_page = page_args(request.args, PER_PAGE)
    with transaction() as session:
        conn = session.connection()
        rows, total = outbox.list_for_user(conn, who.username, page, per_page)
        unread = outbox.unread_count(conn, who.username)
    for row in rows:
        row["link"] = _link(row)
        row["kind_label"] = outbox.KIND_LABELS.get(row["kind"], row["kind"])
    pages = max(1, (total + per_page - 1) // per_page)
    return render_template("notifications/index.html", rows=rows, total=total, unread=unread, page=page,
                           pages=pages, is_admin=who.has("admin"))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read() -> Any:
    """Mark one notice (`id`) or all of them (`all`) read."""
    who = principal()
    ids = "all" if request.form.get("all") else request.form.getlist("id", type=int)
    with transaction() as session:
        outbox.mark_read(session.connection(), who.username, ids, clock.now())
    if ids == "all":
        flash(_("已全部标为已读"), "success")
    return redirect(url_for("notifications.index", page=request.form.get("page", type=int)))


@bp.route("/notifications/failed")
@login_required
def failed() -> Any:
    """SMS and 12345 deliveries that failed or wait for a retry (administrators)."""
    require_role("admin")
    page, per_page = page_args(request.args, PER_PAGE)
    with transaction() as session:
        rows, total = outbox.failed_deliveries(session.connection(), page, per_page)
    for row in rows:
        row["channel_label"] = outbox.CHANNEL_LABELS.get(row["channel"], row["channel"])
        row["status_label"] = outbox.STATUS_LABELS.get(row["status"], row["status"])
        row["kind_label"] = outbox.KIND_LABELS.get(row["kind"], row["kind"])
    pages = max(1, (total + per_page - 1) // per_page)
    return render_template("notifications/failed.html", rows=rows, total=total, page=page, pages=pages)


@bp.route("/notifications/failed/<int:notification_id>/retry", methods=["POST"])
@login_required
def retry(notification_id: int) -> Any:
    """Send a failed notice again (attempts start over) at the sender's next run."""
    require_role("admin")
    with transaction() as session:
        requeued = outbox.retry_failed(session.connection(), notification_id, clock.now())
    if requeued:
        flash(_("已重新排入发送队列，将在下次发送时重试"), "success")
    else:
        flash(_("该通知已发送或不存在，无需重新发送"), "error")
    return redirect(url_for("notifications.failed"))
