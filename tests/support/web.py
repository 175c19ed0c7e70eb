"""The Flask app as tests build it, and forms read back from its pages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lxml.html
from flask import Flask
from flask.testing import FlaskClient

from engine.settings import ENV_PREFIX

DEMO_PASSWORD = "Demo@2026"
# The engine settings the suite put in the environment (tests/conftest.py) reach the app as config;
# the app's own switches (the scheduler) do not.
_APP_ONLY = {"SCHEDULER"}


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """Create the app for tests (CSRF off unless overridden), with the suite's engine settings; uploads and the
    catalog's example images in the test's own directories."""
    from web import create_app

    engine_keys = {k[len(ENV_PREFIX):]: v for k, v in os.environ.items()
                   if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):] not in _APP_ONLY}
    config = {**engine_keys, "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
              "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(tmp_path / "uploads"),
              "CATALOG_IMAGE_DIR": str(tmp_path / "catalog-images"), "RATELIMIT_ENABLED": False}
    config.update(overrides)
    return create_app(config)


def form_of(client: FlaskClient, code: str) -> dict[str, str]:
    """The edit form of a matter as the browser would submit it unchanged (text, hidden fields, selects,
    checked boxes; no file chosen)."""
    page = lxml.html.fromstring(client.get(f"/catalog/{code}/edit").data.decode())
    [form] = page.xpath('//form[@id="matter-form"]')
    data: dict[str, str] = {}
    for element in form.xpath(".//input|.//textarea|.//select"):
        name = element.get("name")
        if element.tag == "select":
            chosen = element.xpath("./option[@selected]/@value")
            data[name] = chosen[0] if chosen else ""
        elif element.get("type") == "checkbox":
            if element.get("checked") is not None:
                data[name] = element.get("value")
        elif element.get("type") == "file":
            continue
        elif element.tag == "textarea":
            data[name] = element.text_content()
        else:
            data[name] = element.get("value") or ""
    return data
