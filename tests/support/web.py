"""The Flask app as tests build it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from engine.settings import ENV_PREFIX

DEMO_PASSWORD = "Demo@2026"
# The engine settings the suite put in the environment (tests/conftest.py) reach the app as config;
# the app's own switches (the scheduler) do not.
_APP_ONLY = {"SCHEDULER"}


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """Create the app for tests (CSRF off unless overridden), with the suite's engine settings."""
    from web import create_app

    engine_keys = {k[len(ENV_PREFIX):]: v for k, v in os.environ.items()
                   if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):] not in _APP_ONLY}
    config = {**engine_keys, "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
              "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False}
    config.update(overrides)
    return create_app(config)
