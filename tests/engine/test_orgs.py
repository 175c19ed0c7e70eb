"""Organisations' window details (办事大厅 R-6.2.1, R-6.1.4): one rule for address, opening hours and phone,
changed only by administrators, every change audited old → new, a refusal changing nothing; the demo county
brings its windows' details and loading it again puts them back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.access.orgs import check_window, tel_uri
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import AuditLog, Organisation
from tests.support.db import engine_for, principal, tx

DEMO_CENTER_PHONE = "0512-60000000"


def window(database_url: str, code: str) -> tuple[str, str, str]:
    """(address, hours, phone) of an organisation as stored."""
    with tx(database_url) as session:
        org = session.get_one(Organisation, code)
        return org.address, org.hours, org.phone


def audit_entries(database_url: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Every org_window_changed entry as (actor, target, details), oldest first."""
    with tx(database_url) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "org_window_changed").order_by(AuditLog.id))
        return [(r.actor, r.target, r.details) for r in rows]


@pytest.mark.parametrize(("typed", "kept"), [
    ("0512-61234567", "0512-61234567"),
    ("  0512 6123  4567 ", "0512 6123 4567"),
    ("12345", "12345"),
    ("０５１２－６１２３４５６７", "0512-61234567"),  # full-width, as a Chinese input method types it
    ("", ""),
])
def test_a_plausible_phone_is_kept_in_normal_form(typed: str, kept: str) -> None:
    """Digits, dashes and spaces with 5 to 20 digits pass (spaces collapsed, full-width read as ASCII)."""
    assert check_window({"phone": typed}) == ({"phone": kept}, {})


@pytest.mark.parametrize(("typed", "problem"), [
    ("abc", "只能由数字、短横线（-）和空格组成"),
    ("0512-6123456x", "只能由数字、短横线（-）和空格组成"),
    ("-0512-61234567", "只能由数字、短横线（-）和空格组成"),
    ("+86 512 61234567", "只能由数字、短横线（-）和空格组成"),
    ("(0512)61234567", "只能由数字、短横线（-）和空格组成"),
    ("1234", "应有 5 至 20 位数字"),
    ("1" * 21, "应有 5 至 20 位数字"),
    ("1-" * 20 + "1", "不能超过 40 个字"),
])
def test_an_implausible_phone_is_refused_saying_why(typed: str, problem: str) -> None:
    """Letters, a leading dash, +, brackets, too few or too many digits and an over-long text are each refused."""
    _normal, errors = check_window({"phone": typed})
    assert list(errors) == ["phone"] and problem in errors["phone"][0]


def test_address_is_one_line_hours_may_take_several_and_both_have_a_limit() -> None:
    """Line breaks in the address become spaces; the hours keep their lines (blank ones dropped); 201 characters
    are refused for either, an unknown field too."""
    typed = {"address": " 示范县人民路\n88 号 ", "hours": "周一至周五 8:30-17:30\n\n 周六 9:00-12:00 "}
    normal, errors = check_window(typed)
    assert errors == {}
    assert normal == {"address": "示范县人民路 88 号", "hours": "周一至周五 8:30-17:30\n周六 9:00-12:00"}
    _normal, errors = check_window({"address": "路" * 201, "hours": "时" * 201, "fax": "1"})
    assert set(errors) == {"address", "hours", "_form"} and "不能超过 200 个字" in errors["address"][0]
    assert "fax" in errors["_form"][0]


def test_the_tel_link_dials_the_digits() -> None:
    """The tel: link keeps only the digits (a phone dials no spaces); no phone gives no link."""
    assert tel_uri("0512 6123-4567") == "tel:051261234567" and tel_uri("") == ""


def test_an_administrator_changes_a_window_and_each_change_is_audited(county_db: str) -> None:
    """admin1 sets T01V02's phone and clears its hours: both are stored, the audit entry says old → new per
    field; the same values again change nothing and write no entry."""
    engine = engine_for(county_db)
    address, hours, phone = window(county_db, "T01V02")
    admin = principal(engine, "admin1")
    result = engine.accounts.set_window(admin, "T01V02", {"address": address, "hours": "", "phone": "0512-69999999"})
    assert result["changed"] == {"hours": [hours, ""], "phone": [phone, "0512-69999999"]}
    assert result["organisation"]["phone"] == "0512-69999999"
    assert window(county_db, "T01V02") == (address, "", "0512-69999999")
    assert audit_entries(county_db) == [("admin1", "T01V02", {"changes": {"hours": [hours, ""],
                                                                          "phone": [phone, "0512-69999999"]}})]
    again = engine.accounts.set_window(admin, "T01V02", {"phone": "0512-69999999"})
    assert again["changed"] == {} and len(audit_entries(county_db)) == 1


def test_a_refused_change_keeps_every_field_as_it_was(county_db: str) -> None:
    """A bad phone beside a good address: InvalidData naming the phone, nothing stored, nothing audited."""
    engine = engine_for(county_db)
    before = window(county_db, "T02")
    with pytest.raises(InvalidData) as refused:
        engine.accounts.set_window(principal(engine, "admin1"), "T02", {"address": "新地址", "phone": "电话 0512"})
    assert set(refused.value.errors) == {"phone"} and "青阳镇" in refused.value.message
    assert window(county_db, "T02") == before and audit_entries(county_db) == []


@pytest.mark.parametrize("username", ["center1", "clerk_c", "designer1", "analyst1", "hotline12345"])
def test_only_administrators_read_or_change_the_windows(county_db: str, username: str) -> None:
    """Anyone but an administrator is refused by scoping (org_edit) — list, form and change — and nothing moves."""
    engine = engine_for(county_db)
    who = principal(engine, username)
    before = window(county_db, "center")
    for attempt in (lambda: engine.administration.organisations(who),
                    lambda: engine.administration.org_form(who, "center"),
                    lambda: engine.accounts.set_window(who, "center", {"phone": "0512-61111111"})):
        with pytest.raises(Forbidden, match="仅系统管理员"):
            attempt()
    assert window(county_db, "center") == before and audit_entries(county_db) == []


def test_an_unknown_organisation_is_not_found(county_db: str) -> None:
    """Changing or reading a code nobody has: NotFound with the code."""
    engine = engine_for(county_db)
    with pytest.raises(NotFound, match="T09"):
        engine.accounts.set_window(principal(engine, "admin1"), "T09", {"phone": "0512-61111111"})
    with pytest.raises(NotFound):
        engine.administration.org_form(principal(engine, "admin1"), "T09")


def test_the_list_pages_by_kind_with_each_parent_named(county_db: str) -> None:
    """The center first, then departments, the joint office, townships and villages, by code; a page of 5; one
    kind alone; each with its parent's name and window details (departments have none)."""
    engine = engine_for(county_db)
    admin = principal(engine, "admin1")
    first = engine.administration.organisations(admin, 1, per_page=5)
    assert first.total == 18 and [o["code"] for o in first.items] == ["center", "canlian", "hongshizihui", "jiaoyu",
                                                                      "minzheng"]
    assert first.items[0]["phone"] == DEMO_CENTER_PHONE and first.items[1]["phone"] == ""
    villages = engine.administration.organisations(admin, 1, "village")
    assert [o["code"] for o in villages.items] == ["T01V01", "T01V02", "T02V01", "T02V02"]
    assert villages.items[2]["parent_name"] == "青阳镇" and villages.items[2]["address"].startswith("示范县青阳镇")
    assert engine.administration.organisations(admin, 1, "no-such-kind").total == 18


def test_the_demo_county_brings_its_windows_and_loading_it_again_restores_them(county_db: str) -> None:
    """Center, townships and villages have demo details (示范县, 0512-6…); after an administrator's change,
    demo-data again puts the file's values back; departments keep none."""
    engine = engine_for(county_db)
    for code in ("center", "T01", "T01V01", "T01V02", "T02", "T02V01", "T02V02"):
        address, hours, phone = window(county_db, code)
        assert address.startswith("示范县") and "周一至周五" in hours and phone.startswith("0512-6"), code
    assert window(county_db, "minzheng") == ("", "", "")
    engine.accounts.set_window(principal(engine, "admin1"), "center", {"phone": "0512-61111111", "address": ""})
    engine.accounts.load_demo_data()
    assert window(county_db, "center")[0].startswith("示范县") and window(county_db, "center")[2] == DEMO_CENTER_PHONE
