"""Window registration (placeholder until the intake work lands)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("intake", __name__, url_prefix="/intake")


@bp.route("/new")
def new() -> str:
    abort(404)
