"""The staff workbench and public portal: a Flask app on top of `engine` (app factory)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template

from engine import db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app: defaults, instance config.py, RELIEF_* env, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=None,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=2),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=110 * 1024 * 1024,  # up to 10 materials of 10 MB each, plus the form
        PROXY_FIX=0,
        UPLOAD_DIR=None,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        RATELIMIT_STORAGE_URI="memory://",
        PORTAL_RATE_LIMIT="10 per minute;100 per day",
        WTF_CSRF_TIME_LIMIT=None,
        SCHEDULER="off",  # "on": run the deadline jobs in this process (RELIEF_SCHEDULER; `make run` sets it)
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("RELIEF")
    else:
        app.config.from_mapping(test_config)
    _finish_config(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in JSON
    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind a reverse proxy the client address (rate limits, audit) comes from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_FIX"]), x_proto=1)  # type: ignore[method-assign]
    _init_extensions(app)
    _register_blueprints(app)
    _register_error_pages(app)
    if _scheduler_wanted(app):
        from engine.deadlines.scheduler import start_in_background

        start_in_background(app.config["DATABASE_URL"])
    return app


def _scheduler_wanted(app: Flask) -> bool:
    """Say whether this process should run the scheduler: switched on, and not the reloader's watcher."""
    setting = app.config["SCHEDULER"]
    # from_prefixed_env reads RELIEF_SCHEDULER=true as JSON, so booleans mean the same as on/off.
    if setting not in ("on", "off", True, False):
        raise ValueError(f"RELIEF_SCHEDULER must be 'on' or 'off', not {setting!r}")
    if setting not in ("on", True):
        return False
    # In debug mode `flask run` reloads: the parent only watches files and respawns the child
    # (WERKZEUG_RUN_MAIN=true), which serves; the child runs the scheduler, the parent must not.
    return not app.debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def _finish_config(app: Flask) -> None:
    app.config["DATABASE_URL"] = app.config["DATABASE_URL"] or db.default_database_url()
    if not app.config["SECRET_KEY"]:
        # A per-instance random key: stable across restarts, never committed.
        key_file = Path(app.instance_path) / "secret_key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            key_file.write_text(os.urandom(32).hex())
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(Path(app.instance_path) / "uploads")


def _init_extensions(app: Flask) -> None:
    from engine.cases.runtime import CaseEngine
    from web.extensions import babel, csrf, limiter, login_manager, select_locale

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    app.extensions["relief_engine"] = CaseEngine(app.config["DATABASE_URL"])


def _register_blueprints(app: Flask) -> None:
    from web import auth, calendar_admin, cases, design, inbox, instances, intake, notifications, portal, tasks
    from web.api import bp as api_bp

    for module in (auth, inbox, tasks, cases, intake, portal, notifications, calendar_admin, design, instances):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_bp)


def _register_error_pages(app: Flask) -> None:
    def page(code: int, title: str) -> Any:
        def handler(_error: Exception) -> Any:
            return render_template("errors/error.html", code=code, title=title), code
        return handler

    for code, title in ((400, "请求有误"), (403, "无权访问"), (404, "页面不存在或不在您的权限范围内"),
                        (413, "上传文件过大"), (429, "操作过于频繁，请稍后再试"), (500, "系统内部错误")):
        app.register_error_handler(code, page(code, title))
