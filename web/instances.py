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
from sqlalchemy import select

from engine import clock
from engine.cases import casefile, inspection, store
from engine.cases.admin import ERROR, OPEN, STATUS_NAMES, SUSPENDED, errored_steps
from engine.cases.intake import LOCAL_TZ
from engine.cases.runtime import PROCESS_KEY
from engine.errors import EngineError, InvalidData, NotFound
from engine.i18n import _l
from engine.models import ProcessDefinition
from web.services import case_engine, page_args, require_role, transaction

bp = Blueprint("instances", __name__, url_prefix="/admin")
PER_PAGE = 20
ADMINS = ("admin",)
STATUS_CHOICES = (("running", _l("办理中")), ("completed", _l("办结")), ("declined", _l("不予受理")),
                  ("suspended", _l("已挂起")), ("error", _l("流程出错")), ("terminated", _l("已终止")))
HEAT_DEFAULT_DAYS = 90


def _day(value: str | None, end: bool = False) -> datetime | None:
    """A local calendar day from a form field as a UTC moment (its start, or the next day's start)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1 if end else 0), time.min, LOCAL_TZ)


def _query(args: Any) -> inspection.InstanceQuery:
    page, per_page = page_args(args, PER_PAGE)
    return inspection.InstanceQuery(
        case_no=args.get("case_no", "").strip(), applicant=args.get("applicant", "").strip(),
        status=args.get("status", ""),
        version=args.get("version", type=int), task=args.get("task", "").strip(),
        overdue=args.get("overdue", "") if args.get("overdue") in ("yes", "no") else "",
        started_from=_day(args.get("started_from")), started_to=_day(args.get("started_to"), end=True),
        ended_from=_day(args.get("ended_from")), ended_to=_day(args.get("ended_to"), end=True),
        page=page, per_page=per_page)


@bp.route("/instances")
@login_required
def index() -> Any:
    """The instance list: every filter of the issue, 20 per page, newest first."""
    who = require_role(*ADMINS)
    query = _query(request.args)
    with transaction() as session:
        conn = session.connection()
        rows, total = inspection.list_instances(conn, who, query, clock.now())
        versions = [v for (v,) in conn.execute(select(ProcessDefinition.version).where(
            ProcessDefinition.key == PROCESS_KEY).order_by(ProcessDefinition.version.desc()))]
    pages = max(1, (total + query.per_page - 1) // query.per_page)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("instances/index.html", rows=rows, total=total, page=query.page, pages=pages,
                           args=args, status_choices=STATUS_CHOICES, versions=versions)


def _instance_page(case_no: str, errors: dict[str, list[str]] | None = None, status: int = 200,
                   form: dict[str, str] | None = None) -> Any:
    who = require_role(*ADMINS)
    engine = case_engine()
    now = clock.now()
    with transaction() as session:
        conn = session.connection()
        instance = store.find_instance(conn, case_no)
        if instance is None or not casefile.may_see_case(session, who, case_no):
            abort(404)
        loaded = engine.specs.get_by_id(session, instance.definition_id)
        definition = session.get_one(ProcessDefinition, instance.definition_id)
        xml = definition.xml
        open_rows = store.open_tasks(conn, case_no=case_no)
        tasks = inspection.human_tasks(conn, case_no)
        history = casefile.history(session, case_no)
        applicant = casefile.masked_applicant_of(session, case_no)
        newer = [v for (v,) in conn.execute(select(ProcessDefinition.version).where(
            ProcessDefinition.key == loaded.key, ProcessDefinition.version != loaded.version)
            .order_by(ProcessDefinition.version.desc()))]
        assignable = {row["id"]: casefile.assignable_users(session, row) for row in open_rows}
    workflow = engine.restore_workflow(case_no)
    overlays = inspection.diagram_overlays(workflow, loaded, open_rows, now)
    errored = [{**t, "data_json": json.dumps(inspection.mask_data(t["data"]), ensure_ascii=False, indent=2)}
               for t in errored_steps(workflow)]
    checks = {}
    if instance.status in (OPEN, SUSPENDED, ERROR):
        for version in newer:
            try:
                checks[version] = engine.migration_check(case_no, version)
            except EngineError as err:
                checks[version] = {"safe": False, "missing": [], "message": err.message}
    return render_template(
        "instances/show.html", case_no=case_no, instance=instance, status_label=STATUS_NAMES.get(
            instance.status, instance.status), key=loaded.key, version=loaded.version, xml=xml,
        overlays=overlays, open_rows=open_rows, tasks=tasks, history=history, applicant=applicant,
        workflow_data=json.dumps(inspection.mask_data(workflow.data), ensure_ascii=False, indent=2, default=str),
        errored=errored, migration=checks, assignable=assignable, errors=errors or {}, form=form or {},
        can=_allowed(instance.status)), status


def _allowed(status: str) -> dict[str, bool]:
    return {"suspend": status == OPEN, "resume": status == SUSPENDED,
            "terminate": status in (OPEN, SUSPENDED, ERROR), "migrate": status in (OPEN, SUSPENDED, ERROR),
            "reassign": status == OPEN, "retry": status == ERROR}


@bp.route("/instances/<case_no>")
@login_required
def show(case_no: str) -> Any:
    """One instance: its diagram with overlays, history, masked data, human tasks and the actions."""
    return _instance_page(case_no)


def _act(case_no: str, action: str, run: Any) -> Any:
    """Run an administrator action; on refusal show the page again with the reason (input kept)."""
    who = require_role(*ADMINS)
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


# Status changes that need nothing but the case and a reason: the engine method of each.
STATUS_ACTIONS = {"suspend": "suspend_case", "resume": "resume_case", "terminate": "terminate_case"}


@bp.route("/instances/<case_no>/<any(suspend, resume, terminate):action>", methods=["POST"])
@login_required
def change_status(case_no: str, action: str) -> Any:
    """Suspend (挂起), resume (恢复) or terminate (终止, final) with a reason."""
    method = getattr(case_engine(), STATUS_ACTIONS[action])
    return _act(case_no, action, lambda who, reason: method(case_no, who, reason))


@bp.route("/instances/<case_no>/migrate", methods=["POST"])
@login_required
def migrate(case_no: str) -> Any:
    """Migrate to another version; refused with the reason when unsafe."""
    version = request.form.get("to_version", type=int)

    def run(who: str, reason: str) -> Any:
        if version is None:
            raise InvalidData(_("请选择目标版本"), {"to_version": [_("请选择目标版本")]})
        return case_engine().migrate_case(case_no, version, who, reason)

    return _act(case_no, "migrate", run)


@bp.route("/instances/<case_no>/tasks/<task_id>/reassign", methods=["POST"])
@login_required
def reassign(case_no: str, task_id: str) -> Any:
    """Reassign an open task to one of its candidates; the reason goes into the event log."""
    assignee = request.form.get("assignee", "").strip()

    def run(who: str, reason: str) -> Any:
        with transaction() as session:
            row = store.get_task(session.connection(), task_id)
        if row is None or row["case_no"] != case_no:
            raise NotFound(_("任务不存在"))
        if not reason.strip():
            raise InvalidData(_("请填写操作原因"), {"reason": [_("请填写操作原因")]})
        if not assignee:
            raise InvalidData(_("请选择办理人"), {"assignee": [_("请选择办理人")]})
        return case_engine().assign_task(task_id, assignee, by=who, reason=reason.strip())

    return _act(case_no, "reassign", run)


@bp.route("/instances/<case_no>/retry", methods=["POST"])
@login_required
def retry(case_no: str) -> Any:
    """Retry an errored step after merging corrected data (a JSON object) into it."""
    task_id = request.form.get("task_id", "")
    raw = request.form.get("data", "").strip()

    def run(who: str, reason: str) -> Any:
        try:
            patch = json.loads(raw) if raw else {}
        except ValueError as err:
            raise InvalidData(_("修正数据格式有误"), {"data": [_("不是合法的 JSON：%(e)s", e=str(err))]}) from err
        if not isinstance(patch, dict):
            raise InvalidData(_("修正数据格式有误"), {"data": [_("请填写 JSON 对象，例如 {\"priority\": 1}")]})
        return case_engine().retry_task(case_no, task_id, patch, who, reason)

    return _act(case_no, "retry", run)


# -- the heat view ----------------------------------------------------------------------------


@bp.route("/heat")
@login_required
def heat() -> Any:
    """A definition version's diagram with active tokens and average / P90 time per user task."""
    require_role("admin", "designer", "analyst")
    key = request.args.get("key", PROCESS_KEY)
    today = clock.now().astimezone(LOCAL_TZ).date()
    since_text = request.args.get("from") or (today - timedelta(days=HEAT_DEFAULT_DAYS)).isoformat()
    until_text = request.args.get("to") or today.isoformat()
    since, until = _day(since_text), _day(until_text, end=True)
    error = None
    if since is None or until is None or since >= until:
        error = _("日期范围有误，已改为最近 %(n)s 天", n=HEAT_DEFAULT_DAYS)
        since_text, until_text = (today - timedelta(days=HEAT_DEFAULT_DAYS)).isoformat(), today.isoformat()
        since, until = _day(since_text), _day(until_text, end=True)
    all_versions = request.args.get("all") == "1"
    engine = case_engine()
    with transaction() as session:
        versions = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                        .order_by(ProcessDefinition.version.desc())))
        if not versions:
            abort(404)
        wanted = request.args.get("version", type=int) or versions[0].version
        definition = next((v for v in versions if v.version == wanted), None)
        if definition is None:
            abort(404)
        loaded = engine.specs.get(definition)
        assert since is not None and until is not None
        rows = inspection.definition_heat(session.connection(), loaded, since, until, all_versions)
        xml = definition.xml
        numbers = [v.version for v in versions]
    return render_template("instances/heat.html", key=key, version=wanted, versions=numbers, rows=rows,
                           overlays=inspection.heat_overlays(rows), xml=xml, since=since_text, until=until_text,
                           all_versions=all_versions, error=error)
