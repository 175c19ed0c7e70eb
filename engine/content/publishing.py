"""Editing and publishing the portal's content (门户内容, R-6.2.1): `CaseEngine.content`.

Administrators create, edit, withdraw and re-publish policy documents (政策法规) and pages such as
中心简介 (`about`). Every save is a revision kept whole — who, when, why (a reason is required for
every change after the first) — any two revisions can be compared, and restoring an earlier one
saves its content as a new revision. Each change is written to the audit log. The portal reads only
what is published, with its Markdown rendered through the sanitiser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from engine import clock, db
from engine.access import scoping
from engine.access.accounts import Principal, audit
from engine.cases import materials
from engine.cases.labels import actor_names
from engine.cases.materials import Material, Upload
from engine.content.diff import diff_records
from engine.content.records import (
    PAGE,
    POLICY,
    check_page,
    check_pdf,
    check_policy,
    check_reason,
    columns_of,
    pdf_of,
    record_of,
)
from engine.content.rendering import render_markdown
from engine.errors import InvalidData, NotFound
from engine.paging import Page, paginate
from engine.settings import Settings
from engine.status import CONTENT_STATUSES, PUBLISHED, WITHDRAWN
from engine.tables import CONTENT_PAGE, CONTENT_REVISION, POLICY_DOCUMENT

PER_PAGE = 20
TABLES: dict[str, Table] = {POLICY: POLICY_DOCUMENT, PAGE: CONTENT_PAGE}
REFUSED = "内容填写有误，请按提示修改"


@dataclass(frozen=True)
class StoredPdf:
    """A policy document's PDF on disk, and the name it is downloaded as."""

    path: Path
    filename: str
    size: int


def _newest_first(kind: str) -> tuple[Any, ...]:
    table = TABLES[kind]
    return (table.c.issued_on.desc(), table.c.id.desc()) if kind == POLICY else (table.c.slug,)


def _missing(kind: str, published: bool = False) -> NotFound:
    what = "政策文件" if kind == POLICY else "页面"
    return NotFound(f"{what}不存在或已撤回" if published else f"{what}不存在")


class PortalContent:
    """政策法规 and the portal's pages: the public reads and the administrators' changes."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings, self.sessions = settings, sessions

    # -- the portal (no sign-in): published items only ---------------------------------------

    def published_policies(self, page: int) -> Page[dict[str, Any]]:
        """One page of the published policy documents, newest first."""
        query = select(*POLICY_DOCUMENT.c).where(POLICY_DOCUMENT.c.status == PUBLISHED).order_by(*_newest_first(POLICY))
        with db.transaction(self.sessions, read_only=True) as session:
            return paginate(session.connection(), query, page, PER_PAGE, lambda r: dict(r._mapping))

    def published_policy(self, policy_id: int) -> dict[str, Any]:
        """A published policy document with its text as sanitised HTML; NotFound otherwise."""
        row = self._published(POLICY, POLICY_DOCUMENT.c.id == policy_id)
        return {**row, "html": render_markdown(row["body"])}

    def published_pdf(self, policy_id: int) -> StoredPdf:
        """The PDF of a published policy document; NotFound when it is withdrawn or has none."""
        return self._pdf(self._published(POLICY, POLICY_DOCUMENT.c.id == policy_id))

    def published_page(self, slug: str) -> dict[str, Any]:
        """A published portal page by its slug (e.g. `about`, 中心简介) with its HTML; NotFound otherwise."""
        row = self._published(PAGE, CONTENT_PAGE.c.slug == slug)
        return {**row, "html": render_markdown(row["body"])}

    def _published(self, kind: str, which: ColumnElement[bool]) -> dict[str, Any]:
        table = TABLES[kind]
        with db.transaction(self.sessions, read_only=True) as session:
            row = session.execute(select(*table.c).where(which, table.c.status == PUBLISHED)).first()
        if row is None:
            raise _missing(kind, published=True)
        return dict(row._mapping)

    def _pdf(self, row: Mapping[str, Any]) -> StoredPdf:
        if not row["pdf_sha256"]:
            raise NotFound("该政策文件没有 PDF 文件")
        return StoredPdf(materials.path_of(self.settings.upload_dir, row["pdf_sha256"]), row["pdf_filename"],
                         row["pdf_size"])

    # -- administrators -------------------------------------------------------------------------

    def overview(self, principal: Principal, page: int) -> dict[str, Any]:
        """Every policy document (a page of them, newest first) and every portal page, whatever their status."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions, read_only=True) as session:
            conn = session.connection()
            policies = paginate(conn, select(*POLICY_DOCUMENT.c).order_by(*_newest_first(POLICY)), page, PER_PAGE,
                                lambda r: dict(r._mapping))
            pages = [dict(r._mapping) for r in conn.execute(select(*CONTENT_PAGE.c).order_by(*_newest_first(PAGE)))]
        return {"policies": policies, "pages": pages}

    def item(self, principal: Principal, kind: str, item_id: int) -> dict[str, Any]:
        """One item as its edit page shows it: the row, its record and its revisions."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions, read_only=True) as session:
            row = _row(session.connection(), kind, item_id)
            return {"item": row, "record": record_of(kind, row), "revisions": _revisions(session, kind, item_id)}

    def pdf(self, principal: Principal, policy_id: int) -> StoredPdf:
        """The current PDF of any policy document, withdrawn ones included (for administrators)."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions, read_only=True) as session:
            return self._pdf(_row(session.connection(), POLICY, policy_id))

    def create(self, principal: Principal, kind: str, values: Mapping[str, Any],
               pdf: Upload | None = None, reason: str = "") -> int:
        """Create a published item from form values (a policy with its PDF); return its id."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            record, material, errors = self._checked(conn, kind, values, pdf, None)
            why, reason_errors = check_reason(reason, required=False)
            if errors or reason_errors:
                raise InvalidData(REFUSED, {**errors, **reason_errors})
            self._store(material)
            return self._save(session, kind, None, {**record, "status": PUBLISHED}, "created", principal, why)[0]

    def edit(self, principal: Principal, kind: str, item_id: int, values: Mapping[str, Any], reason: str,
             pdf: Upload | None = None, based_on: int | None = None) -> int:
        """Save new values of an item as its next revision (with a reason); return the revision number.

        `based_on` is the revision the form was opened at: a save by someone else since is refused, and so
        is a save that changes nothing. `values["remove_pdf"]` drops a policy's PDF; a new upload replaces it."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            row = _row(conn, kind, item_id, lock=True)
            record, material, errors = self._checked(conn, kind, values, pdf, row)
            why, reason_errors = check_reason(reason, required=True)
            errors.update(reason_errors)
            if based_on is not None and based_on != row["revision"]:
                errors["form"] = [f"在您编辑期间已有人保存了第 {row['revision']} 版；请查看修订记录，"
                                  "重新打开编辑页面后再修改"]
            record = {**record, "status": row["status"]}
            if not errors and record == record_of(kind, row):
                errors["form"] = ["内容没有变化，未保存新版本"]
            if errors:
                raise InvalidData(REFUSED, errors)
            self._store(material)
            return self._save(session, kind, item_id, record, "edited", principal, why, row)[1]

    def set_status(self, principal: Principal, kind: str, item_id: int, status: str, reason: str) -> int:
        """Withdraw (撤回) an item from the portal or publish it again, with a reason; return the revision."""
        scoping.require(principal, "content")
        why, errors = check_reason(reason, required=True)
        if status not in CONTENT_STATUSES:
            errors["status"] = ["未知的状态"]
        with db.transaction(self.sessions) as session:
            row = _row(session.connection(), kind, item_id, lock=True)
            if not errors and row["status"] == status:
                errors["status"] = ["已经撤回，无需再次撤回" if status == WITHDRAWN else "已经发布，无需再次发布"]
            if errors:
                raise InvalidData("无法更改发布状态", errors)
            action = "withdrawn" if status == WITHDRAWN else "published"
            return self._save(session, kind, item_id, {**record_of(kind, row), "status": status}, action,
                              principal, why, row)[1]

    def restore(self, principal: Principal, kind: str, item_id: int, revision: int, reason: str) -> int:
        """Save the content of an earlier revision as the newest (its status stays); return the new revision."""
        scoping.require(principal, "content")
        why, errors = check_reason(reason, required=True)
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            row = _row(conn, kind, item_id, lock=True)
            earlier = _records(conn, kind, item_id, [revision]).get(revision)
            if earlier is None:
                errors["revision"] = [f"没有第 {revision} 版"]
            elif {**earlier, "status": row["status"]} == record_of(kind, row):
                errors["revision"] = [f"第 {revision} 版与当前内容相同，无需恢复"]
            if errors or earlier is None:
                raise InvalidData("无法恢复该版本", errors)
            return self._save(session, kind, item_id, {**earlier, "status": row["status"]}, "restored", principal,
                              why, row, restored_from=revision)[1]

    def compare(self, principal: Principal, kind: str, item_id: int, older: int | None = None,
                newer: int | None = None) -> dict[str, Any]:
        """The revisions of an item and what changed between two of them (default: the newest and the one
        before it)."""
        scoping.require(principal, "content")
        with db.transaction(self.sessions, read_only=True) as session:
            conn = session.connection()
            row = _row(conn, kind, item_id)
            newest = row["revision"]
            newer = newer if newer is not None and 1 <= newer <= newest else newest
            older = older if older is not None and 1 <= older <= newest else max(1, newer - 1)
            records = _records(conn, kind, item_id, [older, newer])
            return {"item": row, "revisions": _revisions(session, kind, item_id), "older": older, "newer": newer,
                    "changes": diff_records(kind, records[older], records[newer])}

    def _checked(self, conn: Connection, kind: str, values: Mapping[str, Any], upload: Upload | None,
                 row: Mapping[str, Any] | None) -> tuple[dict[str, Any], Material | None, dict[str, list[str]]]:
        """The record the form's values make (`row`: the item as it is), a policy's new PDF, and the errors."""
        if kind == PAGE:
            record, errors = check_page(values, row["slug"] if row is not None else None)
            taken = conn.execute(select(CONTENT_PAGE.c.title).where(CONTENT_PAGE.c.slug == record["slug"])).first()
            if row is None and "slug" not in errors and taken is not None:
                errors["slug"] = [f"页面地址 {record['slug']} 已被页面“{taken.title}”使用"]
            return record, None, errors
        kept = record_of(POLICY, row)["pdf"] if row is not None and not values.get("remove_pdf") else None
        material, refused = check_pdf(upload, self.settings.content_pdf_max_bytes) if upload else (None, None)
        record, errors = check_policy(values, pdf_of(material) if material else kept)
        if refused:
            errors.pop("body", None)  # the refused file was meant to be the document: say what is wrong with it
            errors["pdf"] = [refused]
        return record, material, errors

    def _store(self, material: Material | None) -> None:
        """Write a new PDF under the upload directory by its hash (once every check has passed)."""
        if material is not None:
            materials.save_files(self.settings.upload_dir, [material])

    def _save(self, session: Session, kind: str, item_id: int | None, record: dict[str, Any], action: str,
              principal: Principal, reason: str, row: Mapping[str, Any] | None = None,
              restored_from: int | None = None) -> tuple[int, int]:
        """Write `record` to the item (a new one when `item_id` is None) as its next revision, keep the
        revision and audit it; return (item id, revision)."""
        conn, now, table = session.connection(), clock.now(), TABLES[kind]
        revision = row["revision"] + 1 if row is not None else 1
        columns = {**columns_of(kind, record), "revision": revision, "updated_at": now,
                   "updated_by": principal.username}
        if item_id is None:
            item_id = int(conn.execute(insert(table).values(columns).returning(table.c.id)).scalar_one())
        else:
            conn.execute(update(table).where(table.c.id == item_id).values(columns))
        conn.execute(insert(CONTENT_REVISION).values(
            kind=kind, item_id=item_id, revision=revision, action=action, restored_from=restored_from, at=now,
            actor=principal.username, reason=reason, record=record))
        details = {"revision": revision, "title": record["title"], "reason": reason}
        audit(session, principal.username, f"content_{action}", now, f"{kind}:{item_id}",
              **details, **({"restored_from": restored_from} if restored_from else {}))
        return item_id, revision


def _row(conn: Connection, kind: str, item_id: int, lock: bool = False) -> dict[str, Any]:
    table = TABLES[kind]
    query = select(*table.c).where(table.c.id == item_id)
    found = conn.execute(query.with_for_update() if lock else query).first()
    if found is None:
        raise _missing(kind)
    return dict(found._mapping)


def _records(conn: Connection, kind: str, item_id: int, revisions: list[int]) -> dict[int, dict[str, Any]]:
    """The records kept with the given revisions of an item."""
    rows = conn.execute(select(CONTENT_REVISION.c.revision, CONTENT_REVISION.c.record).where(
        CONTENT_REVISION.c.kind == kind, CONTENT_REVISION.c.item_id == item_id,
        CONTENT_REVISION.c.revision.in_(sorted(set(revisions)))))
    return {revision: record for revision, record in rows}


def _revisions(session: Session, kind: str, item_id: int) -> list[dict[str, Any]]:
    """Every revision of an item, newest first, with who saved it by name (the records left out)."""
    columns = [c for c in CONTENT_REVISION.c if c.name != "record"]
    rows = [dict(r._mapping) for r in session.execute(select(*columns).where(
        CONTENT_REVISION.c.kind == kind, CONTENT_REVISION.c.item_id == item_id)
        .order_by(CONTENT_REVISION.c.revision.desc()))]
    names = actor_names(session, [r["actor"] for r in rows])
    return [{**r, "actor_name": names.get(r["actor"], r["actor"])} for r in rows]
