"""接口令牌 for administrators (/admin/tokens, R-6.1.4): every API token with its name, owner, issue, last use,
expiry and state; issuing one for a user (the token shown this once); revoking one; and creating an
integration account (a user with the integration role, e.g. the 12345 platform's) to issue tokens for. The
windows' rating tablets are the devices page's. The engine audits every change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import clock
from engine.access.admin import INTEGRATION_ROLE
from engine.errors import InvalidData, NotFound
from web.presenters import private
from web.services import engine, page_number, require

bp = Blueprint("tokens_admin", __name__, url_prefix="/admin/tokens")
EXPIRY_DAYS = (30, 90, 180, 365, 0)  # 0: never expires


def _page(values: dict[str, str], errors: dict[str, list[str]] | None = None, created: dict[str, str] | None = None,
          status: int = 200) -> Any:
    who = require("tokens_admin")
    found = engine().administration.tokens(who, page_number(request.args), request.args.get("owner", ""))
    owners = engine().administration.users(who, 1, status="active", per_page=100)  # suggestions; any may be typed
    integration = engine().administration.users(who, 1, role=INTEGRATION_ROLE, per_page=100)
    page = render_template("tokens_admin/index.html", tokens=found, owners=owners.items,
                           integration=integration.items, values=values, errors=errors or {}, created=created,
                           expiry_days=EXPIRY_DAYS, owner=request.args.get("owner", ""),
                           orgs=engine().accounts.organisations())
    return private(current_app.make_response((page, status)))


@bp.route("/")
@login_required
def index() -> Any:
    """The tokens (`?owner=`), newest first, the form that issues one and the integration accounts."""
    return _page({"days": "365"})


@bp.route("/", methods=["POST"])
@login_required
def create() -> Any:
    """Issue a token for a user, named, expiring after the days chosen (0: never); show it once."""
    who = require("tokens_admin")
    values = {k: request.form.get(k, "") for k in ("owner", "name", "days")}
    days = int(values["days"]) if values["days"].isdigit() and int(values["days"]) in EXPIRY_DAYS else 365
    expires = clock.now() + timedelta(days=days) if days else None
    try:
        token = engine().administration.create_token(who, values["owner"], values["name"], expires)
    except NotFound as missing:
        return _page(values, {"owner": [missing.message]}, status=422)
    except InvalidData as refused:
        return _page(values, refused.errors, status=422)
    return _page({"days": "365"}, created={"token": token, "owner": values["owner"], "name": values["name"]})


@bp.route("/integration", methods=["POST"])
@login_required
def create_integration() -> Any:
    """A new integration account (role integration; it signs in with tokens only)."""
    who = require("tokens_admin")
    fields = {"username": request.form.get("username", "").strip(),
              "display_name": request.form.get("display_name", ""), "org_code": request.form.get("org_code", ""),
              "roles": [INTEGRATION_ROLE]}
    try:
        engine().administration.create_user(who, fields)
    except InvalidData as refused:
        return _page({"int_" + k: str(v) for k, v in fields.items()}, refused.errors, status=422)
    flash(_("已新建接口账号 %(name)s，可为它签发令牌", name=fields["username"]), "success")
    return redirect(url_for("tokens_admin.index") + "#token-form")


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Any:
    """Revoke one token: refused (401) from its next request on."""
    try:
        revoked = engine().administration.revoke_token(require("tokens_admin"), token_id)
    except NotFound:
        abort(404)
    flash(_("已吊销令牌：%(name)s", name=revoked["name"] or token_id) if revoked["revoked"] else
          _("该令牌已吊销"), "success")
    return redirect(url_for("tokens_admin.index") + f"#token-{token_id}")
