"""Case pages (placeholder until the case-page work lands)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.route("/")
def index() -> str:
    abort(404)
