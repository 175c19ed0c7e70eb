"""Flask extensions, created here and bound to the app in `create_app` (no app at import time)."""

from __future__ import annotations

import time

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage

from engine.models import Base

LANGUAGES = ("zh", "en")

# Flask-SQLAlchemy owns the web app's engine, pool and request-scoped session, over the engine's
# own typed models; the case engine opens its transactions on that session (see `create_app`).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class InlineExpiryMemoryStorage(MemoryStorage):
    """Flask-Limiter's in-process counters, expired inline at most once a second instead of by a timer
    thread that `limits`' memory storage starts again on almost every counted request.

    RATELIMIT_STORAGE_URI = "relief-memory://". Counters are per process: under gunicorn each worker
    counts its own requests (a shared storage such as Redis counts across workers)."""

    STORAGE_SCHEME = ["relief-memory"]
    EXPIRE_EVERY = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._expired_at = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (overrides the name-mangled private hook)
        now = time.monotonic()
        if now - self._expired_at >= self.EXPIRE_EVERY:
            self._expired_at = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
babel = Babel()


def select_locale() -> str:
    """Chinese first; English when the user chose it or the browser prefers it over Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"
