"""审计日志 for administrators (/admin/audit, R-6.4.3): search the security audit log by who, action, target and
period (newest first, paged) with the state of its hash chain, check the chain now, and export what the search
finds as CSV for Excel (the export is itself audited)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import clock
from engine.audit.labels import ACTION_LABELS, PROBLEM_LABELS
from engine.errors import InvalidData
from web.services import engine, page_number, require

bp = Blueprint("audit_admin", __name__, url_prefix="/admin/audit")
FILTERS = ("actor", "action", "target", "since", "until")


def _filters() -> dict[str, str]:
    """The search fields of the query string as typed."""
    return {key: request.args.get(key, "") for key in FILTERS if request.args.get(key)}


@bp.route("/")
@login_required
def index() -> Any:
    """The entries matching the search, 20 a page, newest first; the chain's last check above them."""
    found = engine().audit.page(require("audit"), request.args, page_number(request.args))
    status = 400 if found.extra["errors"] else 200
    return render_template("audit_admin/index.html", entries=found, typed=_filters(), action_labels=ACTION_LABELS,
                           problem_labels=PROBLEM_LABELS, chain=found.extra["chain"],
                           errors=found.extra["errors"]), status


@bp.route("/export.csv")
@login_required
def export() -> Any:
    """The entries matching the search as CSV (UTF-8 with a BOM, so Excel reads the Chinese), streamed."""
    try:
        rows = engine().audit.export(require("audit"), request.args, translate=_)
    except InvalidData:
        abort(400)
    name = f"audit-log-{clock.local_text(clock.now(), '%Y%m%d-%H%M')}.csv"
    return Response(stream_with_context(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})


@bp.route("/verify", methods=["POST"])
@login_required
def verify() -> Any:
    """Check the whole chain now; back to the search it was asked from."""
    verdict = engine().audit.verify(principal=require("audit"))
    if verdict.problem is None:
        flash(_("审计日志校验通过：共 %(n)s 条记录，链完整", n=verdict.checked), "success")
    else:
        flash(_("审计日志校验未通过：%(message)s", message=verdict.problem.message), "error")
    kept: dict[str, Any] = {key: value for key, value in request.form.items() if key in FILTERS and value}
    return redirect(url_for("audit_admin.index", **kept))
