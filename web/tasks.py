"""Task pages (办理): the task with its case at a glance, its form, and claim/release/assign/complete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.access.accounts import Principal
from engine.errors import Forbidden, InvalidData, NotFound, TaskConflict, WorkflowFailure
from web.form_render import Values, build_fields, parse, values_from_data, values_from_form
from web.presenters import private
from web.services import engine, principal, settings, unmask_for_view

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _file(task_id: str) -> dict[str, Any]:
    """The task page's data; 404 for an unknown task and for one outside the user's scope alike."""
    try:
        return engine().files.task_file(principal(), task_id)
    except NotFound:
        abort(404)


def _schema(task: dict[str, Any]) -> dict[str, Any] | None:
    schema = settings().forms.task_schema(task["form_key"], (task.get("context") or {}).get("choices"))
    if schema is None:
        current_app.logger.error("task form %r cannot be loaded", task["form_key"])
    return schema


def _render(file: dict[str, Any], values: Values | None = None, errors: dict[str, list[str]] | None = None,
            entered: bool = False, unmasked: dict[str, str] | None = None,
            unmask_errors: list[str] | None = None, status: int = 200) -> Any:
    """Draw the task page; `values` are what the user typed (kept on every error), `entered` marks them unsaved."""
    task, errors = file["task"], errors or {}
    schema = _schema(task)
    fields = []
    if schema is not None:
        if values is None:
            values = values_from_data(schema, task["initial"])
        fields = build_fields(schema, settings().reference, values, errors)
    names = {f.name for f in fields}
    form_errors = [m for key, messages in errors.items() if key not in names for m in messages]
    html = render_template(
        "tasks/show.html", **file, fields=fields, form_errors=form_errors, entered=entered,
        form_title=(schema or {}).get("title"), form_description=(schema or {}).get("description"),
        form_missing=None if schema is not None else _("表单 %(key)s 无法加载，请联系系统管理员", key=task["form_key"]),
        unmasked=unmasked, unmask_errors=unmask_errors, unmask_url=url_for("tasks.unmask", task_id=task["id"]))
    return html, status


def _typed(file: dict[str, Any]) -> Values | None:
    """What the user had typed into the task's form, when this request carries it (else None)."""
    schema = _schema(file["task"])
    if schema is None or not any(name in request.form for name in schema.get("properties", {})):
        return None
    return values_from_form(schema, request.form)


@bp.route("/<task_id>")
@login_required
def show(task_id: str) -> Any:
    """The task page: the case at a glance, plans and results so far, the form (read-only once closed), history."""
    return _render(_file(task_id))


@bp.route("/<task_id>/complete", methods=["POST"])
@login_required
def complete(task_id: str) -> Any:
    """Submit the task's form (提交办理); on any refusal redraw the page with everything typed."""
    who, file = principal(), _file(task_id)
    schema = _schema(file["task"])
    if schema is None:
        return _render(file, status=500)
    values = values_from_form(schema, request.form)
    data, type_errors = parse(schema, request.form)
    if type_errors:
        flash(_("表单填写有误，请按提示修改"), "error")
        errors = {**settings().forms.validate(file["task"]["form_key"], data,
                                              (file["task"].get("context") or {}).get("choices")), **type_errors}
        return _render(file, values, errors, status=422)
    try:
        engine().complete_task(task_id, who.username, data, principal=who)
    except NotFound:
        abort(404)
    except InvalidData as err:
        flash(err.message, "error")
        return _render(file, values, err.errors, status=422)
    except (Forbidden, TaskConflict) as err:
        # Show the task as it is now (held by someone else, or already done) and keep the input.
        flash(err.message, "error")
        return _render(_file(task_id), values, entered=True, status=403 if isinstance(err, Forbidden) else 409)
    except WorkflowFailure as err:
        flash(err.message, "error")
        return _render(file, values, status=500)
    flash(_("已办结：%(name)s", name=file["task"]["name"]), "success")
    return redirect(url_for("inbox.index"))


def _act(task_id: str, action: Callable[[Principal], Any], done: str) -> Any:
    """Run a claim/release/assign; back to the task with a message, and with what was typed when the
    button was pressed in the middle of filling in the form (whether the action succeeded or not)."""
    status = 200
    try:
        action(principal())
    except NotFound:
        abort(404)
    except Forbidden as err:
        flash(err.message, "error")
        status = 403
    except (TaskConflict, InvalidData) as err:
        flash(err.message if isinstance(err, TaskConflict) else "；".join(
            m for ms in err.errors.values() for m in ms), "error")
    else:
        flash(done, "success")
    file = _file(task_id)
    typed = _typed(file)
    if typed is not None or status != 200:
        return _render(file, typed, entered=typed is not None and not file["actions"]["complete"], status=status)
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Any:
    """Take the task as one's own (认领)."""
    return _act(task_id, lambda who: engine().claim_task(task_id, who.username, principal=who), _("已认领该任务"))


@bp.route("/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Any:
    """Give the task back to its candidate groups (退回组内)."""
    return _act(task_id, lambda who: engine().release_task(task_id, who.username, principal=who), _("已退回组内"))


@bp.route("/<task_id>/assign", methods=["POST"])
@login_required
def assign(task_id: str) -> Any:
    """Assign the task to a colleague of its candidate groups (supervisors; 指派)."""
    assignee = request.form.get("assignee", "").strip()
    return _act(task_id, lambda who: engine().assign_task(task_id, assignee, who.username, principal=who),
                _("已指派给 %(who)s", who=assignee))


@bp.route("/<task_id>/unmask", methods=["POST"])
@login_required
def unmask(task_id: str) -> Any:
    """The task page with the applicant's full ID, phone and address, for this view only (logged)."""
    file = _file(task_id)
    unmasked, errors = unmask_for_view(file["task"]["case_no"], request.form.get("reason", ""))
    html, status = _render(file, unmasked=unmasked, unmask_errors=errors, status=422 if errors else 200)
    return private(current_app.make_response((html, status)))
