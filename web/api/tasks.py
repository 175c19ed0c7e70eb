"""Tasks over the API: the scoped inbox query, claim (认领), release (退回组内) and complete (办理)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request
from werkzeug.datastructures import MultiDict

from engine import clock
from engine.access import scoping
from engine.cases.inbox import MAX_PER_PAGE, SORTS, TaskQuery, search_tasks
from engine.cases.intake import CHANNELS
from engine.errors import InvalidData
from web.api.base import bp, json_body, staff
from web.services import case_engine, transaction

# The fields of `relief task list --json`: the API and the CLI describe a task the same way.
TASK_FIELDS = ("id", "case_no", "name", "form_key", "candidate_groups", "assignee", "created_at", "due_at",
               "overdue")
FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}


def _choice(args: MultiDict[str, str], key: str, allowed: tuple[str, ...], default: str,
            errors: dict[str, list[str]]) -> str:
    value = args.get(key, "").strip()
    if value and value not in allowed:
        errors[key] = [f"应为 {'、'.join(allowed)} 之一"]
    return value if value in allowed else default


def _flag(args: MultiDict[str, str], key: str, errors: dict[str, list[str]]) -> bool:
    value = args.get(key, "").strip().lower()
    if value not in FLAGS:
        errors[key] = ["应为 1 或 0"]
    return FLAGS.get(value, False)


def _day(args: MultiDict[str, str], key: str, errors: dict[str, list[str]]) -> date | None:
    value = args.get(key, "").strip()
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        errors[key] = ["日期格式应为 YYYY-MM-DD"]
        return None


def _number(args: MultiDict[str, str], key: str, default: int, highest: int, errors: dict[str, list[str]]) -> int:
    value = args.get(key, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= highest:
        errors[key] = [f"应为 1–{highest} 的整数"]
        return default
    return int(value)


def parse_task_query(args: MultiDict[str, str]) -> TaskQuery:
    """Build the inbox query from URL parameters; raise InvalidData naming each bad parameter."""
    errors: dict[str, list[str]] = {}
    query = TaskQuery(
        scope=_choice(args, "scope", ("mine", "groups"), "groups", errors),
        name=args.get("name", "").strip()[:50], matter=args.get("matter", "").strip()[:50],
        channel=_choice(args, "channel", CHANNELS, "", errors), township=args.get("township", "").strip()[:60],
        overdue=_flag(args, "overdue", errors), green_channel=_flag(args, "green_channel", errors),
        due_from=_day(args, "due_from", errors), due_to=_day(args, "due_to", errors),
        case_no=args.get("case_no", "").strip()[:40], sort=_choice(args, "sort", SORTS, "priority", errors),
        page=_number(args, "page", 1, 10**6, errors), per_page=_number(args, "per_page", 20, MAX_PER_PAGE, errors))
    if errors:
        raise InvalidData("查询参数有误", errors)
    return query


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """A task as the API shows it."""
    return {key: task[key] for key in TASK_FIELDS}


@bp.get("/tasks")
def list_tasks() -> Response:
    """One page of the open tasks the caller may see (scope=mine: assigned to them)."""
    who = staff()
    query = parse_task_query(request.args)
    with transaction() as session:
        rows, total = search_tasks(session.connection(), who, query, clock.now())
    return jsonify({"items": [task_view(r) for r in rows], "total": total, "page": query.page,
                    "per_page": query.per_page})


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Response:
    """Take a task of one's groups as one's own."""
    who = staff()
    return jsonify(task_view(case_engine().claim_task(task_id, who.username, principal=who)))


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Response:
    """Give a claimed task back to its candidate groups."""
    who = staff()
    return jsonify(task_view(case_engine().release_task(task_id, who.username, principal=who)))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Response:
    """Complete a task with its form data; answer the case's open tasks the caller may see."""
    who = staff()
    data = json_body().get("data")
    if not isinstance(data, dict):
        raise InvalidData("请提供表单数据", {"data": ["请在 data 中提供表单数据（JSON 对象）"]})
    open_tasks = case_engine().complete_task(task_id, who.username, data, principal=who)
    return jsonify({"open_tasks": [task_view(t) for t in open_tasks if scoping.may_see_task(who, t)]})
