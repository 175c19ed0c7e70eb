"""The budget keeps the server answering (issue 10): a designer's trial run of a draft whose script
spends without bound ends within two seconds with the budget's error, and `/login` answers meanwhile.

The app runs on a real HTTP server in a thread (werkzeug, threaded, as `flask run` serves it); the
payloads take their sizes from a call (`int("1" + "0" * 12)`), so the compile step lets them through
and only the run-time budget can stop them.
"""

from __future__ import annotations

import http.cookiejar
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bpmn import SHIPPED, SHIPPED_SAMPLES, edit
from tests.support.browser import LiveServer, serve
from tests.support.web import DEMO_PASSWORD, make_app

# Each payload of the issue, as the 告知受理 script of a draft.
PAYLOADS = {
    "huge-range-sum": "x = sum(range(int('1' + '0' * 12)))",
    "tower-power": "x = 10 ** int('1' + '0' * 10)",
    "builtin-pow": "x = pow(7, int('1' + '0' * 9))",
    "string-repeat": "x = 'a' * int('1' + '0' * 10)",
    "list-repeat": "x = [0] * int('1' + '0' * 9)",
    "nested-allocation": "x = [[0] * 10**4 for i in range(10**5)]",
    "endless-while": "while int('1'):\n    pass",
}


@pytest.fixture
def server(demo_db: str, tmp_path: Path) -> Iterator[LiveServer]:
    with serve(make_app(demo_db, tmp_path)) as live:
        yield live


def _signed_in(base: str, username: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD}).encode()
    opener.open(f"{base}/login", data=form, timeout=10).read()
    return opener


def _try_draft(opener: urllib.request.OpenerDirector, base: str, xml: bytes) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}/design/relief_linkage/try", method="POST",
                                     data=json.dumps({"xml": xml.decode()}).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    with opener.open(request, timeout=30) as response:
        return dict(json.loads(response.read()))


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_runaway_trial_ends_within_two_seconds_and_login_answers_meanwhile(server: LiveServer, name: str) -> None:
    script = PAYLOADS[name].replace("<", "&lt;")
    draft = edit(SHIPPED, '<bpmn:script>notify_applicant("received")</bpmn:script>',
                 f'<bpmn:script>notify_applicant("received")\n{script}</bpmn:script>')
    designer = _signed_in(server.url, "designer1")
    outcome: dict[str, Any] = {}

    def trial() -> None:
        started = time.monotonic()
        outcome["answer"] = _try_draft(designer, server.url, draft)
        outcome["seconds"] = time.monotonic() - started

    runner = threading.Thread(target=trial)
    runner.start()
    logins = []
    while not logins or (runner.is_alive() and len(logins) < 50):
        started = time.monotonic()
        with urllib.request.urlopen(f"{server.url}/login", timeout=10) as page:
            assert page.status == 200
        logins.append(time.monotonic() - started)
    runner.join(timeout=30)
    assert outcome["seconds"] < 2.0, outcome
    results = outcome["answer"]["results"]
    assert len(results) == SHIPPED_SAMPLES and all(r["status"] == "error" for r in results), results
    assert "超出运行预算" in results[0]["message"]
    assert logins and max(logins) < 1.0, logins
