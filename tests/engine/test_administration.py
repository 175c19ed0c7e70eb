"""系统管理 (R-6.1.4): the password policy, disabling users, password resets with the forced change, the rules
for deactivating organisations, the matters a window takes, the bulk import (all rows or none), API tokens'
expiry and revocation, and bulk assign/release with per-task results — each change audited."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from engine import clock
from engine.access import scoping
from engine.access.accounts import password_problems, temporary_password
from engine.access.user_import import template
from engine.errors import Forbidden, InvalidData, TaskConflict
from engine.models import AuditLog, User
from tests.support.cases import dispatch, open_task, start
from tests.support.db import principal, tx

STRONG = "Lotus-Harbor-58-Quill"


def actions(database_url: str, *codes: str) -> list[tuple[str, str, str | None]]:
    with tx(database_url) as session:
        return [(a.actor, a.action, a.target) for a in session.scalars(
            select(AuditLog).where(AuditLog.action.in_(codes)).order_by(AuditLog.id))]


def csv_file(*rows: str) -> bytes:
    return ("username,name,org_code,roles,supervisor,can_unmask\n" + "\n".join(rows) + "\n").encode()


def test_the_password_policy_wants_twelve_characters_no_name_and_a_hard_guess() -> None:
    """Short, username or name inside, and long-but-guessable passwords are refused in Chinese; a passphrase and
    a generated temporary password pass."""
    assert password_problems("Demo@2026") == ["密码至少 12 位（现有 9 位）"]
    assert password_problems("wangfang-Lotus-58", "wangfang") == ["密码不能包含用户名"]
    assert password_problems("东湖王芳-Lotus-58x", "clerk_v", "王芳") == ["密码不能包含姓名"]
    for guessable in ("passwordpassword", "qwertyuiop123", "Password2026!", "aaaaaaaaaaaaaa"):
        [problem] = password_problems(guessable)
        assert problem.startswith("密码太容易被猜中"), guessable
    assert password_problems(STRONG, "clerk_v", "王芳") == []
    assert password_problems(STRONG * 6) == [] and password_problems("a" * 100)[0].startswith("密码太容易被猜中")
    assert password_problems("x" * 129)[0] == "密码不能超过 128 位"
    generated = temporary_password()
    assert len(generated) == 19 and password_problems(generated) == []


def test_demo_users_load_with_their_short_password_and_a_new_user_needs_a_good_one(case_engine: Any) -> None:
    """The demo county bypasses the policy (demo data only); a user made by an administrator does not."""
    assert case_engine.accounts.sign_in("clerk_v", "Demo@2026")[0] is not None
    admin = principal(case_engine, "admin1")
    with pytest.raises(InvalidData) as refused:
        case_engine.administration.create_user(admin, {"username": "c2", "display_name": "窗口 二", "org_code": "T01",
                                                       "roles": ["clerk"], "password": "Demo@2026"})
    assert refused.value.errors["password"] == ["密码至少 12 位（现有 9 位）"]


def test_a_disabled_user_cannot_sign_in_and_their_sessions_and_tokens_stop(case_engine: Any, clean_db: str) -> None:
    """Disabling refuses the password, ends the session principal and the API token at once; enabling restores
    them; one cannot disable oneself; both changes are audited."""
    admin = principal(case_engine, "admin1")
    token = case_engine.accounts.create_token("mz1")
    signed_in = principal(case_engine, "mz1")
    assert case_engine.accounts.principal_for_token(token) is not None
    assert case_engine.administration.set_user_active(admin, "mz1", False) is True
    assert case_engine.administration.set_user_active(admin, "mz1", False) is False
    assert case_engine.accounts.sign_in("mz1", "Demo@2026") == (None, "用户名或密码错误")
    assert case_engine.accounts.principal(signed_in.user_id) is None
    assert case_engine.accounts.principal_for_token(token) is None
    with pytest.raises(TaskConflict, match="不能停用自己的账号"):
        case_engine.administration.set_user_active(admin, "admin1", False)
    case_engine.administration.set_user_active(admin, "mz1", True)
    assert case_engine.accounts.principal_for_token(token) is not None
    assert actions(clean_db, "user_disabled", "user_enabled") == [("admin1", "user_disabled", "mz1"),
                                                                  ("admin1", "user_enabled", "mz1")]
    with pytest.raises(Forbidden):
        case_engine.administration.set_user_active(principal(case_engine, "center1"), "mz1", False)


def test_a_reset_password_must_be_changed_to_a_good_one(case_engine: Any, clean_db: str) -> None:
    """A reset gives a temporary password shown once; sign-in with it says a change is due; a weak new one is
    refused with the policy's reason; a good one clears the flag; the old password no longer works."""
    admin = principal(case_engine, "admin1")
    temporary = case_engine.administration.reset_password(admin, "yb1")
    assert case_engine.accounts.sign_in("yb1", "Demo@2026")[0] is None
    signed_in, _error = case_engine.accounts.sign_in("yb1", temporary)
    assert signed_in is not None and signed_in.must_change_password
    with pytest.raises(InvalidData) as weak:
        case_engine.accounts.change_password(signed_in, temporary, "yb1yb1yb1yb1", "yb1yb1yb1yb1")
    assert weak.value.errors["new"] == ["密码不能包含用户名"]
    with pytest.raises(InvalidData) as wrong:
        case_engine.accounts.change_password(signed_in, "nope", STRONG, STRONG)
    assert wrong.value.errors == {"current": ["当前密码不正确"]}
    case_engine.accounts.change_password(signed_in, temporary, STRONG, STRONG)
    again, _ = case_engine.accounts.sign_in("yb1", STRONG)
    assert again is not None and not again.must_change_password
    with tx(clean_db) as session:
        assert session.scalars(select(User).where(User.username == "yb1")).one().last_login_at is not None
    assert actions(clean_db, "password_reset", "password_changed") == [("admin1", "password_reset", "yb1"),
                                                                       ("yb1", "password_changed", "yb1")]


def test_a_new_township_village_and_window_with_its_matters_reach_the_portal(case_engine: Any, clean_db: str) -> None:
    """The county's shape is kept (a village under a township, not under the center); the village's window and
    its matters are on 办事大厅; editing changes what is given, audited old → new."""
    admin = principal(case_engine, "admin1")
    admin_of = case_engine.administration
    with pytest.raises(InvalidData) as misplaced:
        admin_of.create_organisation(admin, {"code": "T03V01", "name": "南湖社区", "kind": "village",
                                             "parent": "center"})
    assert misplaced.value.errors["parent"] == ["村(社区)的上级应为乡镇(街道)，示范县社会救助中心是社会救助中心"]
    admin_of.create_organisation(admin, {"code": "T03", "name": "城南街道", "kind": "township", "parent": "center"})
    matters = [m["code"] for m in admin_of.org_form(admin)["matters"]][:2]
    assert len(matters) == 2
    admin_of.create_organisation(admin, {"code": "T03V01", "name": "城南街道南湖社区", "kind": "village",
                                         "parent": "T03", "address": "南湖路 1 号", "phone": "0512-60003301",
                                         "matters": matters})
    hall = case_engine.portal.service_windows()
    [town] = [t for t in hall["townships"] if t["code"] == "T03"]
    assert [v["code"] for v in town["villages"]] == ["T03V01"]
    village = town["villages"][0]
    assert [m["code"] for m in village["matters"]] == matters and village["address"] == "南湖路 1 号"
    changed = admin_of.edit_organisation(admin, "T03V01", {"name": "南湖社区", "matters": matters[:1]})
    assert changed["changed"] == {"name": ["城南街道南湖社区", "南湖社区"], "matters": [sorted(matters), matters[:1]]}
    assert actions(clean_db, "org_created", "org_changed") == [("admin1", "org_created", "T03"),
                                                               ("admin1", "org_created", "T03V01"),
                                                               ("admin1", "org_changed", "T03V01")]


def test_a_deactivated_organisation_takes_no_new_cases_users_or_work(case_engine: Any, clean_db: str) -> None:
    """A township is deactivated only after its villages; a deactivated village leaves 办事大厅 and the places
    new cases may name, takes no new user, its clerk registers nothing and its members cannot be assigned;
    it is reactivated only under an active parent."""
    admin = principal(case_engine, "admin1")
    admin_of = case_engine.administration
    assert admin_of.set_organisation_active(admin, "T01V01", False) is True
    hall = case_engine.portal.service_windows()
    assert "T01V01" not in [v["code"] for t in hall["townships"] for v in t["villages"]]
    assert "T01V01" not in [code for code, *_ in case_engine.queries.regions()["villages"]]
    with pytest.raises(InvalidData) as refused:
        start(case_engine, "T01", "T01V01")
    assert any("T01V01" in m or "东湖" in m for ms in refused.value.errors.values() for m in ms)
    with pytest.raises(InvalidData, match="无法创建用户") as no_user:
        admin_of.create_user(admin, {"username": "v2", "display_name": "村 二", "org_code": "T01V01",
                                     "roles": ["field"]})
    assert no_user.value.errors["org"] == ["城东街道东湖社区已停用，不能再添加或调入用户"]
    clerk = principal(case_engine, "clerk_v")
    assert not clerk.org_active and not scoping.may(clerk, "register")
    with tx(clean_db) as session:
        assert not scoping.is_candidate(session, "village1", {"candidate_groups": ["T01V01"], "context": {}})
        assert scoping.is_candidate(session, "town1", {"candidate_groups": ["T01"], "context": {}})
    with pytest.raises(TaskConflict, match="请先停用城东街道下仍在用的机构：城东街道西塘社区"):
        admin_of.set_organisation_active(admin, "T01", False)
    admin_of.set_organisation_active(admin, "T01V02", False)
    assert admin_of.set_organisation_active(admin, "T01", False) is True
    with pytest.raises(TaskConflict, match="请先启用上级机构：城东街道"):
        admin_of.set_organisation_active(admin, "T01V01", True)
    admin_of.set_organisation_active(admin, "T01", True)
    admin_of.set_organisation_active(admin, "T01V01", True)
    admin_of.set_organisation_active(admin, "T01V02", True)
    assert principal(case_engine, "clerk_v").org_active
    assert [a for _, a, _ in actions(clean_db, "org_deactivated", "org_reactivated")] == [
        "org_deactivated", "org_deactivated", "org_deactivated", "org_reactivated", "org_reactivated",
        "org_reactivated"]


def test_a_good_csv_and_xlsx_import_every_row_with_a_password_to_change(case_engine: Any, clean_db: str) -> None:
    """Every row becomes a user with its roles and flags and a temporary password that must be changed; the
    templates are readable by the import itself."""
    admin = principal(case_engine, "admin1")
    created = case_engine.administration.import_users(admin, "users.csv", csv_file(
        "clerk_t9,城东窗口 甲,T01,clerk,否,否", "mz9,民政 乙,minzheng,department;analyst,是,1"))
    assert [u["username"] for u in created] == ["clerk_t9", "mz9"]
    signed_in, _ = case_engine.accounts.sign_in("mz9", created[1]["password"])
    assert signed_in is not None and signed_in.must_change_password and signed_in.is_supervisor
    assert signed_in.can_unmask and signed_in.roles == {"department", "analyst"}
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["username", "name", "org_code", "roles"])
    sheet.append(["yb9", "医保 丙", "yibao", "department"])
    data = io.BytesIO()
    book.save(data)
    assert [u["username"] for u in case_engine.administration.import_users(admin, "u.xlsx", data.getvalue())] == ["yb9"]
    with pytest.raises(InvalidData) as example:  # the template's example names a township the county lacks
        case_engine.administration.import_users(admin, "template.xlsx", template("xlsx"))
    assert list(example.value.errors) == ["第 2 行"]
    assert actions(clean_db, "users_imported") == [("admin1", "users_imported", "users.csv"),
                                                   ("admin1", "users_imported", "u.xlsx")]


def test_a_file_with_one_bad_row_imports_nothing_and_names_each_problem(case_engine: Any, clean_db: str) -> None:
    """Unknown organisation and role, a taken username, a repeated one and a bad flag are each reported under
    their row's number; not even the good rows are imported."""
    admin = principal(case_engine, "admin1")
    with tx(clean_db) as session:
        before = len(session.scalars(select(User)).all())
    with pytest.raises(InvalidData) as refused:
        case_engine.administration.import_users(admin, "users.csv", csv_file(
            "good1,好 一,T01,clerk,,", "bad2,坏 二,T99,wizard,,", "clerk_v,重名,T01,clerk,,",
            "good1,重复,T01,clerk,也许,"))
    errors = refused.value.errors
    assert refused.value.message == "3 行有误，未导入任何用户；请改正后重新上传"
    assert errors["第 3 行"] == ["机构代码：未知机构代码：T99", "角色：未知角色：wizard"]
    assert errors["第 4 行"] == ["用户名：用户名 clerk_v 已存在"]
    assert errors["第 5 行"] == ["主管：应为 是 或 否，实际为 也许", "用户名：good1 与第 2 行重复"]
    with tx(clean_db) as session:
        assert len(session.scalars(select(User)).all()) == before
    with pytest.raises(InvalidData, match="表头不完整"):
        case_engine.administration.import_users(admin, "x.csv", b"user,name\nx,y\n")


def test_a_token_is_named_expires_and_is_revoked_alone(case_engine: Any, clean_db: str) -> None:
    """A token works until its expiry; revoking one leaves the owner's other token working; the list shows
    each one's state."""
    admin = principal(case_engine, "admin1")
    first = case_engine.administration.create_token(admin, "hotline12345", "12345 对接", None)
    second = case_engine.administration.create_token(admin, "hotline12345", "备用", clock.now() + timedelta(days=1))
    with pytest.raises(InvalidData, match="无法签发接口令牌"):
        case_engine.administration.create_token(admin, "hotline12345", "", clock.now() - timedelta(days=1))
    tokens = case_engine.administration.tokens(admin).items
    assert [(t["name"], t["owner"], t["state"]) for t in tokens] == [("备用", "hotline12345", "live"),
                                                                     ("12345 对接", "hotline12345", "live")]
    assert case_engine.administration.revoke_token(admin, tokens[1]["id"])["revoked"] is True
    assert case_engine.accounts.principal_for_token(first) is None
    assert case_engine.accounts.principal_for_token(second) is not None
    with clock.frozen_at(clock.now() + timedelta(days=2)):
        assert case_engine.accounts.principal_for_token(second) is None
    assert actions(clean_db, "token_revoked") == [("admin1", "token_revoked", "hotline12345")]


def test_bulk_assign_and_release_report_each_task(case_engine: Any, clean_db: str) -> None:
    """A supervisor assigns three tasks at once: two go, a missing one is reported; assigning to someone outside
    the groups fails per task; releasing after one task was completed releases the other and says the done
    one is done. Each batch is one audit entry; a clerk may not use it."""
    center = principal(case_engine, "center1")
    first, second = start(case_engine), start(case_engine, "T02", None, level="township")
    tasks = [open_task(case_engine, case_no, "triage") for case_no in (first, second)]
    results = case_engine.bulk.run(center, "assign", [*tasks, "no-such-task"], "center1")
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[0]["message"] == "已指派给 center1" and results[2]["message"] == "任务 no-such-task 不存在"
    refused = case_engine.bulk.run(center, "assign", tasks, "mz1")
    assert [r["ok"] for r in refused] == [False, False]
    assert "mz1 不是该任务候选组中的在岗人员" in refused[0]["message"]
    dispatch(case_engine, first, "minzheng")
    released = case_engine.bulk.run(center, "release", tasks)
    assert [r["ok"] for r in released] == [False, True] and released[1]["message"] == "已退回组内"
    assert released[0]["message"]
    with tx(clean_db) as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action.like("tasks_bulk_%")).order_by(AuditLog.id))
        assert [(e.action, e.details["count"], len(e.details["failed"])) for e in entries] == [
            ("tasks_bulk_assigned", 3, 1), ("tasks_bulk_assigned", 2, 2), ("tasks_bulk_released", 2, 1)]
    with pytest.raises(Forbidden):
        case_engine.bulk.run(principal(case_engine, "clerk_v"), "release", tasks)
    with pytest.raises(InvalidData) as empty:
        case_engine.bulk.run(center, "assign", [], "")
    assert set(empty.value.errors) == {"task_ids", "assignee"}


def test_editing_a_user_changes_what_is_given_and_audits_old_and_new(case_engine: Any, clean_db: str) -> None:
    """Name, organisation, roles and the two flags change together, audited old → new; an unknown role or a move
    into a deactivated organisation is refused; an administrator keeps their own admin role."""
    admin = principal(case_engine, "admin1")
    admin_of = case_engine.administration
    changes = admin_of.edit_user(admin, "yb1", {"display_name": "医保局 孙丽", "org_code": "minzheng",
                                                "roles": ["department", "analyst"], "is_supervisor": True,
                                                "can_unmask": False})
    assert changes == {"org_code": ["yibao", "minzheng"], "roles": [["department"], ["analyst", "department"]],
                       "is_supervisor": [False, True]}
    moved = principal(case_engine, "yb1")
    assert moved.org_code == "minzheng" and moved.roles == {"department", "analyst"} and moved.is_supervisor
    assert admin_of.edit_user(admin, "yb1", {"display_name": "医保局 孙丽"}) == {}
    with tx(clean_db) as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "user_changed")).all()
        assert (entry.actor, entry.target, entry.details["changes"]) == ("admin1", "yb1", changes)
    with pytest.raises(InvalidData) as refused:
        admin_of.edit_user(admin, "yb1", {"roles": ["astronaut"]})
    assert refused.value.errors["role"] == ["未知角色：astronaut"]
    admin_of.set_organisation_active(admin, "T02V02", False)
    with pytest.raises(InvalidData) as inactive:
        admin_of.edit_user(admin, "yb1", {"org_code": "T02V02"})
    assert "已停用" in inactive.value.errors["org"][0]
    with pytest.raises(InvalidData, match="不能去掉自己的系统管理员角色"):
        admin_of.edit_user(admin, "admin1", {"roles": ["center"]})
