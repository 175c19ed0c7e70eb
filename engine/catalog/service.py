"""Changing the matter catalog (事项清单 R-6.1.3.1): only as revisions (who, when, why, the whole record
before and after), restorable, audited, seeded once from the data directory's `matters.yaml`, imported
whole; a material's example image (错误示例图片) is kept in `engine.catalog.images`' store and served only
while a current matter refers to it. Reading it is `engine.catalog.reading` (what `ReferenceData.matters`
returns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock, db
from engine.access.accounts import audit
from engine.bpmn.forms import add_error
from engine.cases.materials import Material, Upload
from engine.catalog.images import ImageStore, StoredImage, reference_of, resolve_references
from engine.catalog.reading import forget, read_all, record_of
from engine.catalog.records import FIELDS, MATERIAL_FIELDS, normal_record, record_errors
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.i18n import _l
from engine.reference import ReferenceData, ReferenceDataError
from engine.settings import Settings
from engine.tables import MATTER, MATTER_REVISION

SEED_ACTOR = "system"
ORDER_LABEL = _l("所需材料的顺序")
MAX_REASON = 500


def stored(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a revision keeps and an export writes: the record without its bookkeeping."""
    return {key: record[key] for key in FIELDS if key in record}


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Field by field what a revision changed: [{field, label, before, after}], a material's change
    with its name (`material`) and which of its parts changed."""
    before = before or {}
    found = []
    for key, label in FIELDS.items():
        if key != "materials" and before.get(key) != after.get(key):
            found.append({"field": key, "label": label, "before": before.get(key), "after": after.get(key)})
    old = {m["name"]: m for m in before.get("materials") or []}
    new = {m["name"]: m for m in after.get("materials") or []}
    for name in [*old, *(n for n in new if n not in old)]:
        if old.get(name) != new.get(name):
            parts = [label for key, label in MATERIAL_FIELDS.items()
                     if name in old and name in new and old[name].get(key) != new[name].get(key)]
            found.append({"field": "materials", "label": FIELDS["materials"], "material": name,
                          "before": old.get(name), "after": new.get(name), "parts": parts})
    if [name for name in old if name in new] != [name for name in new if name in old]:
        found.append({"field": "materials", "label": ORDER_LABEL, "before": None, "after": None})
    return found


def change_text(change: Mapping[str, Any]) -> str:
    """One change in a line: the field, the material it concerns and which of its parts changed."""
    if not change.get("material"):
        return str(change["label"])
    parts = "、".join(str(part) for part in change.get("parts") or [])
    return f"{change['label']}：{change['material']}" + (f"（{parts}）" if parts else "")


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidData("请填写修改理由", {"reason": ["请填写修改理由（记入修订记录）"]})
    if len(text) > MAX_REASON:
        raise InvalidData("修改理由过长", {"reason": [f"不能超过 {MAX_REASON} 个字"]})
    return text


class MatterCatalog:
    """Reading and changing the catalog (`CaseEngine.catalog`); pages check who may change it."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings = settings
        self.sessions = sessions
        self.images = ImageStore(settings.catalog_image_dir, settings.catalog_image_max_bytes)

    @property
    def reference(self) -> ReferenceData:
        """Departments and assistance types the records name."""
        return self.settings.reference

    # -- reading ---------------------------------------------------------------------------

    def matters(self) -> list[dict[str, Any]]:
        """Every matter in the catalog's order (disabled ones included)."""
        return list(self.reference.matters().values())

    def get(self, code: str) -> dict[str, Any]:
        """One matter; NotFound when the catalog has no such code."""
        found = self.reference.matters().get(code)
        if found is None:
            raise NotFound(f"事项清单中没有该事项：{code}")
        return found

    def revisions(self, code: str) -> list[dict[str, Any]]:
        """A matter's revisions, newest first, each with what it changed."""
        with db.transaction(self.sessions, read_only=True) as session:
            rows = session.connection().execute(select(MATTER_REVISION).where(MATTER_REVISION.c.code == code)
                                                .order_by(MATTER_REVISION.c.revision.desc())).mappings().all()
        if not rows:
            raise NotFound(f"事项清单中没有该事项：{code}")
        return [{**row, "changes": changes(row["before"], row["after"])} for row in rows]

    def revision(self, code: str, number: int) -> dict[str, Any]:
        """One revision of a matter, with what it changed."""
        found = next((r for r in self.revisions(code) if r["revision"] == number), None)
        if found is None:
            raise NotFound(f"事项 {code} 没有第 {number} 版")
        return found

    def export(self) -> list[dict[str, Any]]:
        """The catalog as records to write out (YAML, XLSX), in its order."""
        return [stored(m) for m in self.matters()]

    def example_image(self, sha256: str, public: bool = True) -> StoredImage:
        """An example image (错误示例图片) the current record of a matter refers to — for the public
        (`public`) only a matter that is not disabled (停用); NotFound for any other hash, a case file's too."""
        matters = self.reference.selectable_matters() if public else self.reference.matters()
        named = any((material.get("example_image") or {}).get("sha256") == sha256
                    for matter in matters.values() for material in matter["materials"])
        mime = self.images.type_of(sha256) if named else None
        if mime is None:
            raise NotFound("没有该错误示例图片")
        return StoredImage(self.images.path_of(sha256), mime)

    # -- changing --------------------------------------------------------------------------

    def checked(self, record: Mapping[str, Any], uploads: Mapping[int, Upload] | None = None
                ) -> tuple[dict[str, Any], list[Material]]:
        """`record` in normal form with the new example images `uploads` (by material index) put in, and
        those images to store; or InvalidData with the field errors (the one check of a matter)."""
        found = normal_record(record)
        errors: dict[str, list[str]] = {}
        images = self._take_images(found, uploads or {}, errors)
        for field, messages in self._errors(found, {i.sha256: i.content_type for i in images}).items():
            for message in messages:
                add_error(errors, field, message)
        if errors:
            raise InvalidData("事项内容有误，请按提示修改", errors)
        return found, images

    def _take_images(self, found: dict[str, Any], uploads: Mapping[int, Upload],
                     errors: dict[str, list[str]]) -> list[Material]:
        """Check each uploaded example image and refer its material to it (it replaces an earlier one)."""
        taken = []
        rows = found["materials"] if isinstance(found.get("materials"), list) else []
        for index, upload in sorted(uploads.items()):
            image, problem = self.images.check(upload)
            if problem:
                add_error(errors, f"materials.{index}.example_image", problem)
            elif image is not None and 0 <= index < len(rows) and isinstance(rows[index], dict):
                rows[index]["example_image"] = reference_of(image)
                taken.append(image)
        return taken

    def _errors(self, found: dict[str, Any], pending: Mapping[str, str]) -> dict[str, list[str]]:
        """The catalog's one check of a normal record: its example images against the store, then the schema
        and the codes it names (a field the first already refused keeps that one message)."""
        errors = resolve_references(found.get("materials"), self.images, pending)
        for field, messages in record_errors(found, self.reference).items():
            if field not in errors:
                errors[field] = messages
        return errors

    def save(self, actor: str, record: Mapping[str, Any], reason: str | None, revision: int | None = None,
             images: Mapping[int, Upload] | None = None) -> dict[str, Any]:
        """Create a matter (`revision` None) or change it from `revision` (its current one, else a conflict),
        with new example images `images` (by material index); the change is kept as a revision and audited.
        Return the matter as stored."""
        reason_text = _reason(reason)
        found, taken = self.checked(record, images)
        now = clock.now()
        with db.transaction(self.sessions) as session:
            self._write(session, actor, found, reason_text, now, revision)
            self.images.save(taken)  # once the revision is written; an image left by a failed commit is unused
        forget(self.settings.database_url)
        return self.get(found["code"])

    def restore(self, actor: str, code: str, number: int, reason: str | None) -> dict[str, Any]:
        """Make revision `number` of a matter current again, as a new revision."""
        old = self.revision(code, number)
        current = self.get(code)
        return self.save(actor, old["after"], reason, current["revision"])

    def import_records(self, actor: str, records: Sequence[Mapping[str, Any]], reason: str | None
                       ) -> dict[str, list[str]]:
        """Take a whole catalog file: every record is checked first and nothing is written unless all
        pass (errors keyed 第N条（code）). New codes are created, changed ones revised, the order taken
        from the file; matters missing from the file stay as they are. Return the codes per outcome."""
        reason_text = _reason(reason)
        checked, errors = [], {}
        for index, record in enumerate(records):
            try:
                checked.append(self.checked(record)[0])
            except InvalidData as refused:
                where = f"第 {index + 1} 条（{record.get('code') or '无代码'}）"
                errors.update({f"{where} {field}": messages for field, messages in refused.errors.items()})
        codes = [r["code"] for r in checked]
        for index, code in enumerate(codes):
            if codes.index(code) != index:
                errors.setdefault(f"第 {index + 1} 条（{code}）", []).append("事项代码在文件中重复")
        if errors:
            raise InvalidData("导入文件有误，未导入任何事项", errors)
        outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
        now = clock.now()
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            existing = read_all(conn)
            for position, record in enumerate(checked):
                old = existing.get(record["code"])
                if old is not None and stored(old) == record and old["position"] == position:
                    outcome["unchanged"].append(record["code"])
                    continue
                self._write(session, actor, record, reason_text, now,
                            old["revision"] if old else None, position, allow_same=True)
                outcome["updated" if old else "created"].append(record["code"])
        forget(self.settings.database_url)
        return outcome

    def ensure_seeded(self) -> int:
        """On first set-up (no revision at all) take the data directory's `matters.yaml` as revision 1 of
        each matter; return how many were added (0 when the catalog already exists)."""
        with db.transaction(self.sessions, read_only=True) as session:
            if session.connection().execute(select(func.count()).select_from(MATTER_REVISION)).scalar_one():
                return 0
        records = []
        for index, entry in enumerate(self.reference.seed_matters()):
            record = normal_record(entry)
            errors = self._errors(record, {})
            if errors:
                problems = "；".join(f"{field}：{'、'.join(m)}" for field, m in errors.items())
                raise ReferenceDataError(f"matters.yaml 第 {index + 1} 条（{record.get('code')}）有误：{problems}")
            records.append(record)
        now = clock.now()
        try:
            with db.transaction(self.sessions) as session:
                if session.connection().execute(select(func.count()).select_from(MATTER_REVISION)).scalar_one():
                    return 0
                for position, record in enumerate(records):
                    self._write(session, SEED_ACTOR, record, "首次建库：导入 data/matters.yaml", now, None, position)
        except IntegrityError:
            return 0  # another process seeded it at the same moment
        forget(self.settings.database_url)
        return len(records)

    def _write(self, session: Session, actor: str, record: dict[str, Any], reason: str, now: datetime,
               revision: int | None, position: int | None = None, allow_same: bool = False) -> None:
        conn = session.connection()
        row = conn.execute(select(MATTER).where(MATTER.c.code == record["code"])).mappings().one_or_none()
        if revision is None and row is not None:
            raise InvalidData("事项代码已存在", {"code": [f"事项代码已存在：{record['code']}"]})
        if revision is not None and row is None:
            raise NotFound(f"事项清单中没有该事项：{record['code']}")
        if row is not None and row["revision"] != revision:
            raise TaskConflict("该事项已被他人修改，请刷新后在最新内容上修改")
        before = stored(record_of(row)) if row is not None else None
        if before == record and not allow_same:
            raise InvalidData("没有修改任何内容", {"_form": ["没有修改任何内容"]})
        number = 1 if row is None else row["revision"] + 1
        values = {**record, "revision": number, "updated_at": now, "updated_by": actor}
        if row is None:
            if position is None:
                position = (conn.execute(select(func.max(MATTER.c.position))).scalar_one() or 0) + 1
            conn.execute(insert(MATTER).values(**values, position=position))
        else:
            conn.execute(update(MATTER).where(MATTER.c.code == record["code"])
                         .values(**values, **({} if position is None else {"position": position})))
        conn.execute(insert(MATTER_REVISION).values(code=record["code"], revision=number, at=now, actor=actor,
                                                    reason=reason, before=before, after=record))
        audit(session, actor, "matter_changed", now, record["code"], revision=number, reason=reason,
              fields=[c["field"] for c in changes(before, record)])
