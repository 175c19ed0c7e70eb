"""deploy/: the systemd units, the environment file and the nginx site are consistent with the code (issue 15)."""

from __future__ import annotations

import configparser
import importlib
import re
import shlex
import sys
from dataclasses import fields
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner
from flask import Flask

from engine.cli import main
from engine.settings import ENV_PREFIX, PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
INSTALLED = PurePosixPath("/opt/relief")  # where the units expect the checkout (WorkingDirectory)
UNITS = ("relief-web.service", "relief-scheduler.service")
DATA_DIRS = ("INSTANCE_DIR", "UPLOAD_DIR", "ARCHIVE_DIR", "CATALOG_IMAGE_DIR")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "relief.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def here(path: str) -> Path:
    """Where a path of the installed layout is in this checkout: the virtualenv's bin is the running one's."""
    installed = PurePosixPath(path)
    relative = installed.relative_to(INSTALLED)
    if relative.parts[:2] == (".venv", "bin"):
        return Path(sys.executable).parent / relative.name
    return PROJECT_ROOT / relative


@pytest.mark.parametrize("name", UNITS)
def test_the_units_run_as_relief_with_the_env_file_and_hardening(name: str) -> None:
    """Each unit runs as relief from /opt/relief with /etc/relief/relief.env, strict file-system protection and
    write access to the data directories of the example environment only."""
    service = unit(name)["Service"]
    assert service["User"] == "relief" and service["WorkingDirectory"] == str(INSTALLED)
    assert service["EnvironmentFile"] == "/etc/relief/relief.env"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    writable = [PurePosixPath(p) for p in service["ReadWritePaths"].split()]
    for key in DATA_DIRS:
        directory = PurePosixPath(env_example()[ENV_PREFIX + key])
        assert any(directory == w or w in directory.parents for w in writable), (name, directory)
    assert "WantedBy" in unit(name)["Install"]


def test_the_web_unit_starts_gunicorn_on_the_app_factory() -> None:
    """ExecStart: the virtualenv's gunicorn, with deploy/gunicorn.conf.py, on web:create_app(); no scheduler inside."""
    service = unit("relief-web.service")["Service"]
    program, *args = shlex.split(service["ExecStart"])
    assert here(program).exists() and here(program).name == "gunicorn"
    assert args[:2] == ["-c", "deploy/gunicorn.conf.py"] and (PROJECT_ROOT / args[1]).is_file()
    module, _, factory = args[2].partition(":")
    assert factory == "create_app()"
    assert callable(importlib.import_module(module).create_app)
    environment = shlex.split(service["Environment"])
    assert "RELIEF_SCHEDULER=off" in environment
    assert f"PROMETHEUS_MULTIPROC_DIR=/run/{service['RuntimeDirectory']}" in environment


def test_the_scheduler_unit_runs_relief_scheduler_run() -> None:
    """ExecStart: the virtualenv's `relief scheduler run`, a command the CLI has."""
    program, *args = shlex.split(unit("relief-scheduler.service")["Service"]["ExecStart"])
    assert here(program).exists() and here(program).name == "relief"
    assert args == ["scheduler", "run"]
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0 and "--interval" in result.output


def test_every_variable_of_the_env_example_is_a_setting(app: Flask) -> None:
    """Each RELIEF_* of relief.env.example is an engine setting, a key of the app's config or gunicorn's; the
    engine's settings it gives are valid."""
    values = env_example()
    assert values and all(key.startswith(ENV_PREFIX) for key in values)
    gunicorn = set(re.findall(r"RELIEF_([A-Z_]+)", (DEPLOY / "gunicorn.conf.py").read_text()))
    known = {f.name.upper() for f in fields(Settings)} | set(app.config) | gunicorn
    unknown = [key for key in values if key[len(ENV_PREFIX):] not in known]
    assert unknown == []
    settings = Settings.from_environ(values)
    assert settings.production and settings.log_format == "json" and settings.metrics_token
    assert {"SESSION_COOKIE_SECURE", "PROXY_FIX", "SECRET_KEY"} <= {k[len(ENV_PREFIX):] for k in values}


def test_nginx_terminates_tls_and_forwards_what_the_app_trusts(app: Flask) -> None:
    """The nginx site redirects HTTP to HTTPS, listens on 443 with TLS, sends X-Forwarded-For/Proto, accepts the
    app's upload limit and lets only listed networks reach /metrics."""
    conf = (DEPLOY / "nginx-relief.conf").read_text(encoding="utf-8")
    assert re.search(r"listen 80;.*?return 301 https://\$host\$request_uri;", conf, re.S)
    assert re.search(r"listen 443 ssl", conf) and "ssl_certificate " in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    [limit] = re.findall(r"client_max_body_size (\d+)m;", conf)
    assert int(limit) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    metrics = re.search(r"location = /metrics \{(.*?)\}", conf, re.S)
    assert metrics is not None and "deny all;" in metrics.group(1)
