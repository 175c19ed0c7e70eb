"""救助公示 for administrators (/admin/notices): every entry with its case and status; withdrawing one
before its period ends, with a reason and a confirmation (audited, in the case's history)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import InvalidData, NotFound, TaskConflict
from web.services import engine, page_number, require

bp = Blueprint("publicity_admin", __name__, url_prefix="/admin/notices")


def _page(errors: dict[str, list[str]] | None = None, failed: int | None = None, status: int = 200) -> Any:
    who = require("notices_admin")
    found = engine().publicity.all_entries(who, page_number(request.args))
    return render_template("publicity_admin/index.html", notices=found, errors=errors or {}, failed=failed), status


@bp.route("/")
@login_required
def index() -> Any:
    """Every entry, newest first."""
    return _page()


@bp.route("/<int:notice_id>/withdraw", methods=["POST"])
@login_required
def withdraw(notice_id: int) -> Any:
    """Take an entry off the portal (reason required)."""
    who = require("notices_admin")
    try:
        engine().publicity.withdraw(who, notice_id, request.form.get("reason", ""))
    except NotFound:
        abort(404)
    except InvalidData as refused:
        return _page(refused.errors, notice_id, 422)
    except TaskConflict as conflict:
        flash(conflict.message, "error")
        return redirect(url_for("publicity_admin.index"))
    flash(_("已撤回该公示"), "success")
    return redirect(url_for("publicity_admin.index"))
