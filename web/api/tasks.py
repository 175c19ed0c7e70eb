"""Tasks over the API: the scoped inbox query, claim (认领), release (退回组内) and complete (办理)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from engine.cases.inbox import parse_task_query
from engine.errors import InvalidData
from web.api.base import allowed, bp, json_body
from web.services import engine

# The fields of `relief task list --json`: the API and the CLI describe a task the same way.
TASK_FIELDS = ("id", "case_no", "name", "form_key", "candidate_groups", "assignee", "created_at", "due_at",
               "overdue")


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """A task as the API shows it."""
    return {key: task[key] for key in TASK_FIELDS}


@bp.get("/tasks")
def list_tasks() -> Response:
    """One page of the open tasks the caller may see (scope=mine: assigned to them)."""
    who = allowed("work_tasks")
    found = engine().inbox.tasks(who, parse_task_query(request.args, strict=True))
    return jsonify({"items": [task_view(r) for r in found.items], "total": found.total,
                    "total_capped": found.capped, "page": found.page, "per_page": found.per_page,
                    "next_cursor": found.cursor})


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Response:
    """Take a task of one's groups as one's own."""
    who = allowed("work_tasks")
    return jsonify(task_view(engine().claim_task(task_id, who.username, principal=who)))


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Response:
    """Give a claimed task back to its candidate groups."""
    who = allowed("work_tasks")
    return jsonify(task_view(engine().release_task(task_id, who.username, principal=who)))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Response:
    """Complete a task with its form data; answer the case's open tasks the caller may see."""
    who = allowed("work_tasks")
    data = json_body().get("data")
    if not isinstance(data, dict):
        raise InvalidData("请提供表单数据", {"data": ["请在 data 中提供表单数据（JSON 对象）"]})
    return jsonify({"open_tasks": [task_view(t) for t in engine().complete_task(task_id, who.username, data,
                                                                                 principal=who)]})
