"""The staff workbench and public portal: a Flask app on top of `engine` (app factory)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template

from engine import db as engine_db
from engine.settings import Settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app: defaults, instance config.py, RELIEF_* env, then `test_config`.

    The engine's settings (`engine.settings.Settings`) are read from the same config: DATABASE_URL,
    INSTANCE_DIR, DATA_DIR, FORMS_DIR, CALENDAR_FILE, UPLOAD_DIR, ENV, … without the RELIEF_ prefix.
    """
    app = Flask(__name__, instance_relative_config=True)
    _defaults(app)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("RELIEF")
    else:
        app.config.from_mapping(test_config)
    settings = Settings.from_mapping(app.config)
    _finish_config(app, settings)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in JSON
    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind a reverse proxy the client address (rate limits, audit) comes from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_FIX"]), x_proto=1)  # type: ignore[method-assign]
    _init_extensions(app, settings)
    _register_blueprints(app)
    _register_error_pages(app)
    _register_operations(app)
    if _scheduler_wanted(app):
        from engine.deadlines.scheduler import start_in_background

        start_in_background(settings)
    return app


def _defaults(app: Flask) -> None:
    """The web app's own defaults; the engine's are `Settings`'."""
    app.config.from_mapping(
        SECRET_KEY=None,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=2),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=110 * 1024 * 1024,  # up to 10 materials of 10 MB each, plus the form
        PROXY_FIX=0,
        INSTANCE_DIR=app.instance_path,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        RATELIMIT_STORAGE_URI="relief-memory://",  # web.extensions.InlineExpiryMemoryStorage
        PORTAL_RATE_LIMIT="10 per minute;100 per day",
        WTF_CSRF_TIME_LIMIT=None,
        SCHEDULER="off",  # "on": run the deadline jobs in this process (RELIEF_SCHEDULER; `make run` sets it)
    )


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


def _read_key(key_file: Path) -> str:
    """The instance's secret key; a worker that lost the race to create it waits for the winner to write it."""
    for _ in range(50):
        key = key_file.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{key_file} is empty")


def _finish_config(app: Flask, settings: Settings) -> None:
    if not app.config["SECRET_KEY"]:
        # A per-instance random key: stable across restarts, never committed.
        key_file = settings.instance_dir / "secret_key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:  # created once, atomically: gunicorn's workers start together and must share one key
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(os.urandom(32).hex())
        app.config["SECRET_KEY"] = _read_key(key_file)
    app.config["DATABASE_URL"] = settings.database_url
    app.config["UPLOAD_DIR"] = str(settings.upload_dir)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings.database_url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_db.engine_options(settings.database_url))
    engine_db.ensure_sqlite_directory(settings.database_url)


def _init_extensions(app: Flask, settings: Settings) -> None:
    from engine.cases.runtime import CaseEngine
    from web import presenters
    from web.extensions import babel, csrf, db, limiter, login_manager, select_locale

    db.init_app(app)
    with app.app_context():
        # SQLite: WAL, foreign keys, BEGIN IMMEDIATE, as everywhere.
        bind = engine_db.configure_engine(db.engine)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    presenters.init_app(app)
    app.extensions["relief_settings"] = settings
    app.extensions["relief_engine"] = CaseEngine(settings, sessions=_sessions(bind))


def _sessions(bind: Any) -> engine_db.SessionFactory:
    """The case engine's sessions: Flask-SQLAlchemy's request-scoped one inside an app context; outside
    one (a script or test holding the app's engine) a plain session on the same engine and pool."""
    from flask import has_app_context

    from web.extensions import db

    outside = engine_db.sessions_on(bind)

    def sessions() -> Any:
        return db.session() if has_app_context() else outside()

    return sessions


def _register_blueprints(app: Flask) -> None:
    from web import (
        audit_admin,
        auth,
        calendar_admin,
        cases,
        catalog,
        content,
        dashboard,
        design,
        devices_admin,
        feedback,
        inbox,
        instances,
        intake,
        notifications,
        orgs_admin,
        portal,
        publicity_admin,
        tablet,
        tasks,
        tokens_admin,
        users_admin,
    )
    from web.api import bp as api_bp

    for module in (auth, inbox, tasks, cases, intake, portal, content, notifications, calendar_admin, design,
                   instances, catalog, publicity_admin, orgs_admin, feedback, devices_admin, tablet, audit_admin,
                   users_admin, tokens_admin, dashboard):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_bp)


def _register_operations(app: Flask) -> None:
    """What production serving adds: security headers, the request log and id, /healthz, /readyz, /metrics."""
    from web import ops, request_log, security_headers

    security_headers.init_app(app)
    request_log.init_app(app, app.extensions["relief_settings"])
    app.register_blueprint(ops.bp)


def _register_error_pages(app: Flask) -> None:
    def page(code: int, title: str) -> Any:
        def handler(_error: Exception) -> Any:
            return render_template("errors/error.html", code=code, title=title), code
        return handler

    for code, title in ((400, "请求有误"), (403, "无权访问"), (404, "页面不存在或不在您的权限范围内"),
                        (413, "上传文件过大"), (429, "操作过于频繁，请稍后再试"), (500, "系统内部错误")):
        app.register_error_handler(code, page(code, title))
