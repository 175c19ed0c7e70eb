"""Public portal (placeholder until the portal work lands)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.route("/apply")
def apply() -> str:
    abort(404)


@bp.route("/query")
def query() -> str:
    abort(404)
