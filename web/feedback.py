"""好差评 statistics for staff (/feedback/): per month, matter, department, window or clerk, scoped to
what each user may count (R-6.3.6)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import login_required

from engine.errors import InvalidData
from engine.feedback.statistics import DIMENSIONS
from web.services import engine, require

bp = Blueprint("feedback", __name__, url_prefix="/feedback")


@bp.route("/")
@login_required
def stats() -> Any:
    """The figures for the chosen dimension and months (GET filters, so a view can be bookmarked)."""
    who = require("feedback_stats")
    by = request.args.get("by", "month")
    since, until = request.args.get("since", "").strip(), request.args.get("until", "").strip()
    try:
        figures = engine().ratings.statistics(who, by, since or None, until or None)
        errors: dict[str, list[str]] = {}
    except InvalidData as refused:
        figures, errors = None, refused.errors
    return render_template("feedback/stats.html", figures=figures, errors=errors, by=by, since=since, until=until,
                           dimensions=DIMENSIONS), (422 if errors else 200)
