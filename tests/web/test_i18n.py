"""Chinese first, English second (Flask-Babel)."""

from __future__ import annotations

from typing import Any


def test_chinese_is_the_default(client: Any) -> None:
    """Without a choice the sign-in page is in Chinese."""
    assert "工作人员登录" in client.get("/login").data.decode()


def test_english_follows_the_browser_or_the_switch(client: Any, login: Any) -> None:
    """A browser preferring English, or the language switch, gets the English interface."""
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).data.decode()
    assert "Staff Sign-in" in english and "工作人员登录" not in english
    staff = login("center1")
    staff.post("/lang/en", data={"next": "/"})
    inbox = staff.get("/").data.decode()
    assert "To-do Tasks" in inbox and 'lang="en"' in inbox
    staff.post("/lang/zh", data={"next": "/"})
    assert "待办任务" in staff.get("/").data.decode()
