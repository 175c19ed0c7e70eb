"""现场评价 (/tablet, R-6.3.6): the rating tablet at a window. It pairs once with its device token (typed, or
from the link `/tablet/pair?token=…` an administrator's QR code opens) and is known from then on by a signed,
long-lived cookie of its own (HttpOnly, SameSite=Strict, only under /tablet); no staff session is made or
needed. Each request asks the engine for the device, so a revoked one is refused at once.

The screen shows the window and its clerk and the visit on offer (`engine.feedback.devices`): five levels,
the window's tags, a comment; after the rating a thank-you screen goes back to waiting, and a waiting screen
asks every few seconds whether a visit has come (web/static/tablet.js)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from engine.errors import InvalidData, NotFound, TaskConflict
from web.extensions import limiter
from web.presenters import private
from web.services import engine

bp = Blueprint("tablet", __name__, url_prefix="/tablet")

COOKIE = "relief_tablet"
COOKIE_SALT = "relief-tablet-device"
COOKIE_LIFETIME = timedelta(days=365)  # renewed on every screen: a tablet in use stays paired
POLL_SECONDS = 4
THANKS_SECONDS = 6


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=COOKIE_SALT)


def _device_id() -> int | None:
    """The device this browser was paired as, from its signed cookie (None: not paired, or tampered with)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        found = _signer().loads(value, max_age=int(COOKIE_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return found.get("device") if isinstance(found, dict) and isinstance(found.get("device"), int) else None


def _remember(response: Response, device_id: int) -> Response:
    response.set_cookie(COOKIE, _signer().dumps({"device": device_id}), max_age=int(COOKIE_LIFETIME.total_seconds()),
                        path=url_for("tablet.screen"), httponly=True, samesite="Strict", secure=request.is_secure)
    return response


def _pair_page(token: str = "", message: str | None = None, status: int = 200, forget: bool = False) -> Response:
    """The pairing form (`forget`: the device's cookie too). Kept out of caches, the token out of referrers."""
    response = private(current_app.make_response((render_template("tablet/pair.html", token=token, message=message),
                                                  status)))
    response.headers["Referrer-Policy"] = "same-origin"
    if forget:
        response.delete_cookie(COOKIE, path=url_for("tablet.screen"))
    return response


def _pair_limit() -> str:
    return str(current_app.config["PORTAL_RATE_LIMIT"])


@bp.route("/pair", methods=["GET", "POST"])
@limiter.limit(_pair_limit, methods=["POST"])
def pair() -> Any:
    """Pair this tablet with its device token (the link's `?token=` fills the field; 配对 sends it)."""
    if request.method == "GET":
        return _pair_page(request.args.get("token", ""))
    token = request.form.get("token", "")
    try:
        device = engine().devices.pair(token)
    except NotFound as refused:
        return _pair_page(token, refused.message, 403)
    return _remember(redirect(url_for("tablet.screen")), device["id"])


@bp.route("/")
def screen() -> Any:
    """The window's screen: the visit on offer with the rating form, or waiting for one."""
    device_id = _device_id()
    if device_id is None:
        return redirect(url_for("tablet.pair"))
    try:
        shown = engine().devices.screen(device_id)
    except NotFound as refused:
        return _pair_page(message=refused.message, status=403, forget=True)
    page = render_template("tablet/screen.html", poll_seconds=POLL_SECONDS, **shown)
    return _remember(private(current_app.make_response(page)), device_id)


@bp.route("/waiting")
def waiting() -> Any:
    """What the screen polls: {"visit": the id of the visit on offer or null}; 403 once the device is revoked."""
    device_id = _device_id()
    if device_id is None:
        return jsonify(error="not_paired", message=_("本平板尚未配对")), 403
    try:
        visit = engine().devices.screen(device_id)["visit"]
    except NotFound as refused:
        return jsonify(error="not_found", message=refused.message), 403
    return private(jsonify(visit=visit["id"] if visit else None))


@bp.route("/rate", methods=["POST"])
def rate() -> Any:
    """The visitor's rating: then the thank-you screen; a refusal back on the screen with the reason."""
    device_id = _device_id()
    if device_id is None:
        return redirect(url_for("tablet.pair"))
    try:
        engine().devices.rate(device_id, request.form.get("visit", type=int) or 0, request.form.get("level", ""),
                              request.form.getlist("tags"), request.form.get("comment", ""))
    except InvalidData as refused:
        flash("；".join(m for ms in refused.errors.values() for m in ms) or refused.message, "error")
    except (NotFound, TaskConflict) as refused:
        flash(refused.message, "error")
    else:
        return redirect(url_for("tablet.thanks"))
    return redirect(url_for("tablet.screen"))


@bp.route("/thanks")
def thanks() -> Any:
    """谢谢评价: back to the waiting screen after a few seconds."""
    if _device_id() is None:
        return redirect(url_for("tablet.pair"))
    return render_template("tablet/thanks.html", return_seconds=THANKS_SECONDS)
