"""Sign-in and sign-out (Flask-Login), API token authentication, and the current user."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine.access.accounts import Principal
from web.extensions import LANGUAGES, login_manager
from web.services import engine

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
    found = engine().accounts.principal(int(user_id))
    return SignedInUser(found) if found is not None else None


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
        signed_in, error = engine().accounts.sign_in(username, request.form.get("password", ""))
        if signed_in is not None:
            session.clear()
            session.permanent = True
            login_user(SignedInUser(signed_in))
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
