"""Process-instance pages (流程实例监控) for administrators.

The list (filters, pagination, masked applicant), one instance on the diagram of its own
definition version (done / active / errored overlays), its history, workflow data and human
tasks, and the actions — suspend, resume, terminate, reassign, retry an errored step, migrate —
each asked for confirmation in the page and recorded with actor and reason in the event log.
The definition-level heat view shows where time goes per user task.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import clock, status
from engine.cases import inspection
from engine.cases.runtime import PROCESS_KEY
from engine.errors import EngineError, InvalidData, NotFound
from web.services import engine, page_number, require

bp = Blueprint("instances", __name__, url_prefix="/admin")
PER_PAGE = 20
HEAT_DEFAULT_DAYS = 90


def _day(value: str | None, end: bool = False) -> datetime | None:
    """A local calendar day from a form field as a UTC moment (its start, or the next day's start)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1 if end else 0), time.min, clock.LOCAL_TZ)


def _query(args: Any) -> inspection.InstanceQuery:
    return inspection.InstanceQuery(
        case_no=args.get("case_no", "").strip(), applicant=args.get("applicant", "").strip(),
        status=args.get("status", ""),
        version=args.get("version", type=int), task=args.get("task", "").strip(),
        overdue=args.get("overdue", "") if args.get("overdue") in ("yes", "no") else "",
        started_from=_day(args.get("started_from")), started_to=_day(args.get("started_to"), end=True),
        ended_from=_day(args.get("ended_from")), ended_to=_day(args.get("ended_to"), end=True),
        page=page_number(args), per_page=PER_PAGE)


@bp.route("/instances")
@login_required
def index() -> Any:
    """The instance list: every filter of the issue, 20 per page, newest first."""
    found = engine().inspection.instances(require("inspect"), _query(request.args))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    status_choices = [(key, label) for key, (label, _codes) in status.FILTERS.items()]
    return render_template("instances/index.html", instances=found, args=args, status_choices=status_choices)


def _instance_page(case_no: str, errors: dict[str, list[str]] | None = None, code: int = 200,
                   form: dict[str, str] | None = None) -> Any:
    try:
        page = engine().inspection.instance(require("inspect"), case_no)
    except NotFound:
        abort(404)
    return render_template("instances/show.html", **page, errors=errors or {}, form=form or {}), code


@bp.route("/instances/<case_no>")
@login_required
def show(case_no: str) -> Any:
    """One instance: its diagram with overlays, history, masked data, human tasks and the actions."""
    return _instance_page(case_no)


def _act(case_no: str, action: str, run: Any) -> Any:
    """Run an administrator action; on refusal show the page again with the reason (input kept)."""
    who = require("inspect")
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        run(who.username, request.form.get("reason", ""))
    except InvalidData as err:
        return _instance_page(case_no, {action: [m for ms in err.errors.values() for m in ms]}, 422, form)
    except NotFound:
        abort(404)
    except EngineError as err:
        return _instance_page(case_no, {action: [err.message]}, 409, form)
    flash(_("操作已完成并记入案件日志"), "success")
    return redirect(url_for("instances.show", case_no=case_no))


@bp.route("/instances/<case_no>/<any(suspend, resume, terminate):action>", methods=["POST"])
@login_required
def change_status(case_no: str, action: str) -> Any:
    """Suspend (挂起), resume (恢复) or terminate (终止, final) with a reason."""
    return _act(case_no, action, lambda who, reason: engine().admin.change_status(case_no, action, who, reason))


@bp.route("/instances/<case_no>/migrate", methods=["POST"])
@login_required
def migrate(case_no: str) -> Any:
    """Migrate to another version; refused with the reason when unsafe."""
    version = request.form.get("to_version", type=int)

    def run(who: str, reason: str) -> Any:
        if version is None:
            raise InvalidData(_("请选择目标版本"), {"to_version": [_("请选择目标版本")]})
        return engine().admin.migrate_case(case_no, version, who, reason)

    return _act(case_no, "migrate", run)


@bp.route("/instances/<case_no>/tasks/<task_id>/reassign", methods=["POST"])
@login_required
def reassign(case_no: str, task_id: str) -> Any:
    """Reassign an open task to one of its candidates; the reason goes into the event log."""
    assignee = request.form.get("assignee", "").strip()
    return _act(case_no, "reassign",
                lambda who, reason: engine().reassign_task(case_no, task_id, assignee, who, reason))


@bp.route("/instances/<case_no>/retry", methods=["POST"])
@login_required
def retry(case_no: str) -> Any:
    """Retry an errored step after merging corrected data (a JSON object) into it."""
    task_id = request.form.get("task_id", "")
    raw = request.form.get("data", "").strip()

    def run(who: str, reason: str) -> Any:
        try:
            patch = json.loads(raw) if raw else {}
        except json.JSONDecodeError as err:
            where = _("第 %(line)s 行第 %(col)s 列", line=err.lineno, col=err.colno)
            message = _("不是合法的 JSON（%(where)s）", where=where)
            raise InvalidData(_("修正数据格式有误"), {"data": [message]}) from err
        if not isinstance(patch, dict):
            raise InvalidData(_("修正数据格式有误"), {"data": [_("请填写 JSON 对象，例如 {\"priority\": 1}")]})
        return engine().admin.retry_task(case_no, task_id, patch, who, reason)

    return _act(case_no, "retry", run)


# -- the heat view ----------------------------------------------------------------------------


@bp.route("/heat")
@login_required
def heat() -> Any:
    """A definition version's diagram with active tokens and average / P90 time per user task."""
    who = require("heat")
    key = request.args.get("key", PROCESS_KEY)
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    since_text = request.args.get("from") or (today - timedelta(days=HEAT_DEFAULT_DAYS)).isoformat()
    until_text = request.args.get("to") or today.isoformat()
    since, until = _day(since_text), _day(until_text, end=True)
    error = None
    if since is None or until is None or since >= until:
        error = _("日期范围有误，已改为最近 %(n)s 天", n=HEAT_DEFAULT_DAYS)
        since_text, until_text = (today - timedelta(days=HEAT_DEFAULT_DAYS)).isoformat(), today.isoformat()
        since, until = _day(since_text), _day(until_text, end=True)
    assert since is not None and until is not None
    all_versions = request.args.get("all") == "1"
    try:
        page = engine().inspection.heat(who, key, request.args.get("version", type=int), since, until, all_versions)
    except NotFound:
        abort(404)
    return render_template("instances/heat.html", **page, since=since_text, until=until_text,
                           all_versions=all_versions, error=error)
