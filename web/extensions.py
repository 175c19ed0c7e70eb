"""Flask extensions, created here and bound to the app in `create_app` (no app at import time)."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from engine.models import Base

LANGUAGES = ("zh", "en")

# Flask-SQLAlchemy owns the web app's engine, pool and request-scoped session, over the engine's
# own typed models; the case engine opens its transactions on that session (see `create_app`).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
babel = Babel()


def select_locale() -> str:
    """Chinese first; English when the user chose it or the browser prefers it over Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"
