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


def test_every_marked_string_has_an_english_translation(tmp_path: Any) -> None:
    """Every string the templates and code mark for translation is in the English catalog, translated and
    not fuzzy (a string added without `make translations` shows in Chinese on the English pages)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    method_map = [("web/templates/**.html", "jinja2"), ("engine/**.py", "python"), ("web/**.py", "python")]
    marked = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map, keywords={"_": None, "_l": None, "gettext": None, "ngettext": (1, 2)},
        options_map={"web/templates/**.html": {"extensions": "jinja2.ext.do"}}) if isinstance(message, str)}
    with open(root / "web/translations/en/LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle, locale="en")
    missing = sorted(m for m in marked if not (catalog.get(m) and catalog.get(m).string
                                               and "fuzzy" not in catalog.get(m).flags))
    assert len(marked) > 300 and missing == []
