"""The inbox (我的待办 / 组内待办): filters, priority sort, pagination, saved filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine import clock, reference
from engine.cases.casefile import CHANNEL_LABELS
from engine.cases.inbox import SORTS, TaskQuery, search_tasks
from engine.cases.intake import CHANNELS, LOCAL_TZ
from engine.models import Organisation, SavedFilter
from web.services import case_engine, principal, transaction

bp = Blueprint("inbox", __name__)
PER_PAGE = 20


def _date(args: MultiDict[str, str], key: str, errors: dict[str, str]) -> date | None:
    raw = args.get(key, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[key] = _("日期格式应为 YYYY-MM-DD")
        return None


def _flag(args: MultiDict[str, str], key: str) -> bool:
    return args.get(key, "").lower() in ("1", "true", "on")


def parse_query(args: MultiDict[str, str]) -> TaskQuery:
    """Build a TaskQuery from request args; bad values are dropped and reported, never fatal."""
    errors: dict[str, str] = {}
    query = TaskQuery(
        scope=args.get("scope") if args.get("scope") in ("mine", "groups") else "groups",
        name=args.get("name", "").strip()[:50], matter=args.get("matter", "").strip()[:50],
        channel=args.get("channel") if args.get("channel") in CHANNELS else "",
        township=args.get("township", "").strip()[:60], overdue=_flag(args, "overdue"),
        green_channel=_flag(args, "green_channel"), case_no=args.get("case_no", "").strip()[:40],
        sort=args.get("sort") if args.get("sort") in SORTS else "priority", per_page=PER_PAGE)
    query.due_from, query.due_to = _date(args, "due_from", errors), _date(args, "due_to", errors)
    try:
        query.page = max(1, int(args.get("page", 1)))
    except ValueError:
        query.page = 1
    query.errors = errors
    return query


def due_label(due_iso: str | None, now: datetime) -> tuple[str, str]:
    """("剩余 N 个工作日" | "超期 N 天" | "今日到期", css class) for a due time."""
    if not due_iso:
        return "", ""
    due = datetime.fromisoformat(due_iso)
    calendar = case_engine().calendar
    today, due_day = now.astimezone(LOCAL_TZ).date(), due.astimezone(LOCAL_TZ).date()
    if due < now:
        return _("超期 %(n)s 天", n=max(1, (today - due_day).days)), "overdue"
    left = calendar.workdays_between(today, due_day)
    if left <= 0:
        return _("今日到期"), "soon"
    return _("剩余 %(n)s 个工作日", n=left), ("soon" if left <= 1 else "")


@bp.route("/")
@login_required
def index() -> Any:
    """The task list of the signed-in user."""
    who, now = principal(), clock.now()
    query = parse_query(request.args)
    with transaction() as session:
        rows, total = search_tasks(session.connection(), who, query, now)
        saved = session.scalars(select(SavedFilter).where(SavedFilter.user_id == who.user_id)
                                .order_by(SavedFilter.name)).all()
        saved_filters = [{"id": f.id, "name": f.name, "params": f.params} for f in saved]
        organisations = session.scalars(select(Organisation).order_by(Organisation.code)).all()
        township_options = [(o.code, o.name) for o in organisations if o.kind == "township"]
        names = {o.code: o.name for o in organisations}
    names.update({code: str(role["zh"]) for code, role in reference.roles().items() if code not in names})
    for row in rows:
        row["due_label"], row["due_class"] = due_label(row["due_at"], now)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render_template("inbox/index.html", rows=rows, total=total, query=query, pages=pages,
                           saved_filters=saved_filters, townships=township_options, names=names,
                           matters=[(code, m["name"]) for code, m in reference.matters().items()],
                           channels=CHANNEL_LABELS, params=query.as_params())


@bp.route("/filters", methods=["POST"])
@login_required
def save_filter() -> Any:
    """Save the current filter under a name (replacing one of the same name)."""
    who = principal()
    name = request.form.get("filter_name", "").strip()[:100]
    params = parse_query(MultiDict(request.form)).as_params()
    if not name:
        flash(_("请为筛选条件填写名称"), "error")
        return redirect(url_for("inbox.index", **params))
    with transaction() as session:
        existing = session.scalar(select(SavedFilter).where(SavedFilter.user_id == who.user_id,
                                                            SavedFilter.name == name))
        if existing is None:
            session.add(SavedFilter(user_id=who.user_id, name=name, params=params, created_at=clock.now()))
        else:
            existing.params = params
    flash(_("已保存筛选条件：%(name)s", name=name), "success")
    return redirect(url_for("inbox.index", **params))


@bp.route("/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Any:
    """Delete one of the user's saved filters."""
    who = principal()
    with transaction() as session:
        saved = session.get(SavedFilter, filter_id)
        if saved is None or saved.user_id != who.user_id:
            return redirect(url_for("inbox.index"))
        session.delete(saved)
    flash(_("已删除筛选条件"), "success")
    return redirect(url_for("inbox.index"))
