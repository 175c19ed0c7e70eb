"""Task pages (placeholder until the task-page work lands)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.route("/<task_id>")
def show(task_id: str) -> str:
    abort(404)
