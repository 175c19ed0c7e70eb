"""Sign-in and sign-out (Flask-Login), API token authentication, and the current user."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine import clock
from engine.access.accounts import Principal, authenticate, principal_of, user_for_token
from engine.models import User
from web.extensions import LANGUAGES, login_manager
from web.services import transaction

bp = Blueprint("auth", __name__)


class SignedInUser(UserMixin):
    """The Flask-Login user: a Principal loaded fresh from the database on each request."""

    def __init__(self, principal: Principal):
        self.principal = principal

    def get_id(self) -> str:
        return str(self.principal.user_id)


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """Reload the signed-in user; a disabled account is signed out at once."""
    if not user_id.isdigit():
        return None
    with transaction() as db_session:
        user = db_session.get(User, int(user_id))
        if user is None or not user.active:
            return None
        return SignedInUser(principal_of(db_session, user))


def authenticate_bearer() -> None:
    """Resolve an `Authorization: Bearer` token into g.api_principal (or leave it unset)."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return
    with transaction() as db_session:
        user = user_for_token(db_session, header[7:].strip(), clock.now())
        g.api_principal = principal_of(db_session, user) if user else None
        g.bearer_failed = user is None


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in page; failures are counted and lock the account after five."""
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        with transaction() as db_session:  # commits the failure count too
            user, error = authenticate(db_session, username, request.form.get("password", ""), clock.now())
            signed_in = SignedInUser(principal_of(db_session, user)) if user else None
        if signed_in is not None:
            session.clear()
            session.permanent = True
            login_user(signed_in)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, username=username), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    """Sign out and forget the session."""
    logout_user()
    session.clear()
    flash(_("您已安全退出"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str) -> Any:
    """Switch the interface language (中文 / English)."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
