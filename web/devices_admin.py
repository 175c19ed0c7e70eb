"""现场评价设备 for administrators (/admin/devices, R-6.3.6): the windows' rating tablets — register one (its
token shown this once, with the link that pairs it), list them and revoke one. Each change is audited by the
engine (`engine.feedback.devices`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import InvalidData, NotFound, TaskConflict
from web.presenters import private
from web.services import engine, require

bp = Blueprint("devices_admin", __name__, url_prefix="/admin/devices")


def _page(values: dict[str, str], errors: dict[str, list[str]] | None = None, created: dict[str, Any] | None = None,
          status: int = 200) -> Any:
    found = engine().devices.overview(require("devices"))
    pair_url = url_for("tablet.pair", token=created["token"], _external=True) if created else None
    page = render_template("devices_admin/index.html", values=values, errors=errors or {}, created=created,
                           pair_url=pair_url, **found)
    return private(current_app.make_response((page, status)))


@bp.route("/")
@login_required
def index() -> Any:
    """The devices, and the form that registers one."""
    return _page({})


@bp.route("/", methods=["POST"])
@login_required
def create() -> Any:
    """Register a device for a window's clerk (the select gives both: `org/username`); show its token once."""
    values = {"name": request.form.get("name", ""), "window_clerk": request.form.get("window_clerk", "")}
    org_code, _slash, clerk = values["window_clerk"].partition("/")
    try:
        created = engine().devices.create(require("devices"), values["name"], org_code, clerk)
    except InvalidData as refused:
        return _page(values, refused.errors, status=422)
    return _page({}, created=created)


@bp.route("/<int:device_id>/revoke", methods=["POST"])
@login_required
def revoke(device_id: int) -> Any:
    """Revoke a device: its tablet is refused from its next request on."""
    try:
        revoked = engine().devices.revoke(require("devices"), device_id)
    except NotFound:
        abort(404)
    except TaskConflict as refused:
        flash(refused.message, "error")
    else:
        flash(_("已停用评价设备：%(name)s", name=revoked["name"]), "success")
    return redirect(url_for("devices_admin.index") + f"#device-{device_id}")
