"""Sign-in and sign-out (Flask-Login), API token authentication, the current user, the idle timeout and
修改密码 (every user's own; forced after a reset: nothing else opens until it is done)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine.access.accounts import MIN_PASSWORD_LENGTH, Principal
from engine.errors import InvalidData
from web.extensions import LANGUAGES, login_manager
from web.services import engine, settings

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
            session["seen"] = int(time.time())
            if signed_in.must_change_password:
                flash(_("您的密码已被重置，请先设置新密码"), "warning")
                return redirect(url_for("auth.change_password"))
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


# What a user who must change their password may still open: this page, signing out, the language, assets.
OPEN_WHILE_FORCED = {"auth.change_password", "auth.logout", "auth.set_language", "static"}


@bp.before_app_request
def idle_timeout_and_forced_change() -> Any:
    """Sign out a session idle past RELIEF_IDLE_TIMEOUT_MINUTES; keep a user whose password was reset on the
    change-password page. Token-authenticated API calls carry no session and pass through."""
    if g.get("api_principal") is not None or not current_user.is_authenticated:
        return None
    now, seen = int(time.time()), session.get("seen")
    if seen is not None and now - int(seen) > settings().idle_timeout_minutes * 60:
        engine().accounts.signed_out_idle(current_user.principal.username)
        logout_user()
        session.clear()
        flash(_("您已闲置超过 %(n)s 分钟，已自动退出，请重新登录", n=settings().idle_timeout_minutes), "warning")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    session["seen"] = now
    if current_user.principal.must_change_password and request.endpoint not in OPEN_WHILE_FORCED:
        if request.blueprint == "api":
            return {"error": "password_change_required", "message": "请先修改密码"}, 403
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """修改密码: the current password and the new one twice; the policy's problems beside the fields."""
    forced = current_user.principal.must_change_password
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            engine().accounts.change_password(current_user.principal, request.form.get("current", ""),
                                              request.form.get("new", ""), request.form.get("repeat", ""))
        except InvalidData as refused:
            errors = refused.errors
        else:
            flash(_("密码已修改"), "success")
            return redirect(url_for("inbox.index") if forced else url_for("auth.change_password"))
    page = render_template("auth/change_password.html", errors=errors, forced=forced, min_length=MIN_PASSWORD_LENGTH)
    return page, (422 if errors else 200)
