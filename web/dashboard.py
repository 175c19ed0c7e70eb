"""The dashboard (数据看板, 数据汇聚展示 R-6.4.1): the page, the hall's full-screen display (R-6.3.3) and one
JSON and one CSV endpoint per chart, each scoped to what the user may see (`engine.dashboard`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_login import login_required

from engine.cases.case_query import CaseFilter, filter_args
from engine.dashboard.charts import Table
from engine.dashboard.service import CHART_NAMES, table_json
from engine.errors import NotFound
from web.services import engine, require

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
PERIODS = ("day", "week", "month")
REFRESH_MINUTES = 5  # the hall's display reloads its charts this often unless ?refresh=N (1–60) says otherwise


def _page(hall: bool) -> Any:
    who = require("dashboard")
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("hall", "refresh")}
    by = args.get("by") if args.get("by") in PERIODS else "day"
    try:
        refresh = min(60, max(1, int(request.args.get("refresh", REFRESH_MINUTES))))
    except ValueError:
        refresh = REFRESH_MINUTES
    sources = {name: url_for("dashboard.data", chart=name, **args) for name in CHART_NAMES}
    downloads = {name: url_for("dashboard.download", chart=name, **args) for name in CHART_NAMES}
    return render_template("dashboard/hall.html" if hall else "dashboard/index.html",
                           choices=engine().dashboard.choices(who), args=args, by=by, sources=sources,
                           downloads=downloads, refresh=refresh,
                           hall_url=url_for("dashboard.hall", **args), page_url=url_for("dashboard.index", **args))


@bp.route("/")
@login_required
def index() -> Any:
    """The dashboard page (?hall=1: the hall's display)."""
    return _page(hall=request.args.get("hall") == "1")


@bp.route("/hall")
@login_required
def hall() -> Any:
    """The hall's full-screen display (R-6.3.3): large type, no navigation, reloads itself."""
    return _page(hall=True)


def _args() -> dict[str, Any]:
    return dict(request.args.items())


def _link(case_filter: CaseFilter, *narrows: dict[str, Any] | None) -> str | None:
    changes = {k: v for narrow in narrows if narrow for k, v in narrow.items()}
    narrowed: dict[str, Any] = filter_args(case_filter.narrowed(**changes))
    return url_for("cases.index", **narrowed) if changes else None


def _presented(table: Table, case_filter: CaseFilter) -> dict[str, Any]:
    """The table with each row's and cell's click-through to the case list (the filter narrowed)."""
    data = table_json(table)
    for row in data["rows"]:
        narrow = row.pop("narrow")
        row["href"] = _link(case_filter, narrow)
        row["links"] = [_link(case_filter, narrow, col.get("narrow")) if narrow and col.get("narrow") else None
                        for col in data["columns"]]
    for col in data["columns"]:
        col.pop("narrow", None)
    return data


@bp.route("/data/<chart>")
@login_required
def data(chart: str) -> Any:
    """One chart's figures as JSON: {"table": columns and rows with links, "filter", "errors", "csv"}."""
    who = require("dashboard")
    try:
        found = engine().dashboard.chart(who, chart, request.args)
    except NotFound:
        abort(404)
    return jsonify({"table": _presented(found["table"], found["filter"]), "filter": filter_args(found["filter"]),
                    "errors": found["errors"], "csv": url_for("dashboard.download", chart=chart, **_args())})


@bp.route("/csv/<chart>")
@login_required
def download(chart: str) -> Any:
    """One chart's table as a CSV file (UTF-8 with a BOM)."""
    who = require("dashboard")
    try:
        name, text = engine().dashboard.csv(who, chart, request.args)
    except NotFound:
        abort(404)
    return Response(text.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
