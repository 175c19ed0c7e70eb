"""Archiving ended cases (电子化归档, R-6.1.2.2): `CaseEngine.archives`.

The step that ends a case only records that it is due (`store.due_at_end`); the deadline jobs' tick builds
a few due versions at a time (`build_due`): number it (档号, 保管期限 from the catalog), read the case file,
render the PDF, copy the materials (checked against their SHA-256), write the package once, mark it
archived. A failure is recorded on the row and the version is tried again later; the case is not touched.
Administrators ask for a new version after a correction (`request_version`); authorised users list and
download versions (audited); `verify` checks every package against its manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import clock, status
from engine.access import scoping
from engine.access.accounts import Principal, audit
from engine.archive import package, pdf
from engine.archive import store as register
from engine.archive.dossier import case_dossier
from engine.cases import labels, materials
from engine.cases import store as case_store
from engine.cases.casefile import CaseFiles
from engine.cases.tasks import record
from engine.cases.workflows import Workflows
from engine.catalog.records import DEFAULT_RETENTION, RETENTIONS, label_of
from engine.errors import InvalidData, NotFound, TaskConflict

BATCH = 5  # versions one tick builds at most: a PDF takes a fraction of a second, the tick stays short
MAX_REASON = 500
OTHER_MATTER = "qita"  # the 档号's matter part of a case with no matter (a process started by key)
KINDS = {"pdf": (package.CASEFILE, "application/pdf", "pdf"),
         "manifest": (package.MANIFEST, "application/json", "manifest.json")}


class ArchiveFailure(Exception):
    """A version could not be built now (a material missing from the store, …): recorded, retried."""


def longest_retention(codes: list[str], catalog: Mapping[str, Mapping[str, Any]]) -> str:
    """The longest 保管期限 among a case's matters in the catalog (the default when none has one)."""
    rank = list(RETENTIONS)
    found = [str(catalog[c].get("retention") or DEFAULT_RETENTION) for c in codes if c in catalog]
    return max((r for r in found if r in RETENTIONS), key=rank.index, default=DEFAULT_RETENTION)


class CaseArchives:
    """The electronic archive of ended cases (`CaseEngine.archives`); each call its own transactions."""

    def __init__(self, workflows: Workflows, files: CaseFiles):
        self.workflows, self.files = workflows, files
        self.settings = workflows.settings
        self.root = Path(self.settings.archive_dir)

    # -- building -----------------------------------------------------------------------------

    def build_due(self, now: datetime, limit: int = BATCH) -> dict[str, list[dict[str, Any]]]:
        """Build up to `limit` due versions; report those archived and those that failed (to be retried)."""
        with self.workflows.reading() as session:
            rows = register.due(session.connection(), now, limit)
        report: dict[str, list[dict[str, Any]]] = {"archived": [], "failed": []}
        for row in rows:
            try:
                report["archived"].append(self._build(row, now))
            except _Skipped:
                continue
            except Exception as err:  # noqa: BLE001 - any failure is kept on the row and retried; the case stays
                retry_at = self._failed(row, now, err)
                report["failed"].append({"case_no": row["case_no"], "version": row["version"], "error": str(err),
                                         "retry_at": retry_at.isoformat()})
        return report

    def _build(self, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        with self.workflows.transaction() as session:
            conn = session.connection()
            if not register.claim(conn, row, now):
                raise _Skipped
            dossier = case_dossier(self.files, session, row["case_no"])
            ended = clock.local_aware(dossier["status"]["ended_at"] or now)
            codes = dossier["matter_codes"]
            numbered = register.numbered(conn, row, ended.year, codes[0] if codes else OTHER_MATTER,
                                         longest_retention(codes, self.settings.reference.matters()))
            requester = labels.actor_names(session, [row["requested_by"]]).get(row["requested_by"],
                                                                               row["requested_by"])
        meta = {"case_no": row["case_no"], "archive_no": numbered["archive_no"], "version": row["version"],
                "retention": numbered["retention"], "created_at": now.isoformat(),
                "requested_by": row["requested_by"], "reason": row["reason"]}
        files = [package.PackageFile(package.CASEFILE, pdf.render(self._sheet(dossier, meta, requester)),
                                     "casefile"), *self._materials(dossier)]
        path, manifest_sha256 = package.write(self.root, row["case_no"], row["version"], meta, files)
        with self.workflows.transaction() as session:
            if not register.archived(session.connection(), row["id"], now, path, manifest_sha256):
                raise _Skipped  # a builder that outlived its claim: the other one's version stands
            record(session, row["case_no"], "case_archived", "system", now,
                   data={"version": row["version"], "archive_no": numbered["archive_no"]})
        return {"case_no": row["case_no"], "version": row["version"], "archive_no": numbered["archive_no"],
                "path": path, "manifest_sha256": manifest_sha256}

    @staticmethod
    def _sheet(dossier: dict[str, Any], meta: Mapping[str, Any], requester: str) -> dict[str, Any]:
        """The dossier with the cover's facts: 档号, version, 保管期限, when, and why a later version was made."""
        return {**dossier, "archive": {**meta, "retention_label": label_of(RETENTIONS, meta["retention"]),
                                       "created_at": clock.local_text(meta["created_at"]),
                                       "requested_by_name": requester}}

    def _materials(self, dossier: Mapping[str, Any]) -> list[package.PackageFile]:
        """A copy of each of the case's materials, read from the upload store and checked against its hash."""
        found = []
        directory = Path(self.settings.upload_dir)
        for item in dossier["materials"]:
            stored = materials.path_of(directory, item["sha256"])
            content = stored.read_bytes() if stored.is_file() else None
            if content is None or hashlib.sha256(content).hexdigest() != item["sha256"]:
                problem = "缺失" if content is None else "与登记的 SHA-256 不符"
                raise ArchiveFailure(f"材料文件{problem}：{item['filename']}（{item['sha256']}）")
            found.append(package.PackageFile(f"{package.MATERIALS}/{item['stored_as']}", content, "material", {
                "filename": item["filename"], "content_type": item["content_type"],
                "uploaded_at": item["uploaded_at"].isoformat(), "uploaded_by": item["uploaded_by"]}))
        return found

    def _failed(self, row: Mapping[str, Any], now: datetime, err: Exception) -> datetime:
        with self.workflows.transaction() as session:
            return register.failed(session.connection(), row, now, f"{type(err).__name__}: {err}")

    def run(self, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Build every version due now, batch after batch (`relief archive run`)."""
        moment = clock.aware(now) if now is not None else clock.now()
        report: dict[str, list[dict[str, Any]]] = {"archived": [], "failed": []}
        while True:
            done = self.build_due(moment)
            report["archived"] += done["archived"]
            report["failed"] += done["failed"]
            if len(done["archived"]) + len(done["failed"]) < BATCH:
                return report

    # -- a correction -------------------------------------------------------------------------

    def request_version(self, principal: Principal, case_no: str, reason: str) -> dict[str, Any]:
        """重新归档: an administrator asks for a new archived version of an ended case (audited); the earlier
        versions stay as they are."""
        scoping.require(principal, "archive_rebuild")
        text = (reason or "").strip()
        if not text or len(text) > MAX_REASON:
            message = "请填写重新归档的原因" if not text else f"原因不能超过 {MAX_REASON} 字"
            raise InvalidData(message, {"reason": [message]})
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            scoping.check_case(conn, principal, case_no)
            instance = case_store.find_instance(conn, case_no)
            if instance is None or not status.is_final(instance.status):
                raise TaskConflict(f"案件 {case_no} 尚未结束，结束后才归档")
            version = register.request_version(conn, case_no, now, principal.username, text)
            audit(session, principal.username, "archive_requested", now, case_no, version=version, reason=text)
            record(session, case_no, "archive_requested", principal.username, now,
                   data={"version": version, "reason": text})
        return {"case_no": case_no, "version": version, "status": status.ARCHIVE_PENDING}

    # -- reading ------------------------------------------------------------------------------

    def download(self, principal: Principal, case_no: str, version: int, kind: str) -> dict[str, Any]:
        """The PDF or the manifest of an archived version for an authorised user (audited); NotFound outside
        their scope, or when the file is missing or no longer what was archived."""
        scoping.require(principal, "archive_read")
        if kind not in KINDS:
            raise NotFound(f"未知的档案文件：{kind}")
        name, content_type, suffix = KINDS[kind]
        with self.workflows.transaction() as session:
            conn = session.connection()
            scoping.check_case(conn, principal, case_no)
            row = next((r for r in register.written(conn, case_no) if r["version"] == version), None)
            if row is None:
                raise NotFound(f"案件 {case_no} 没有已归档的第 {version} 版")
            found = self._checked_file(row, name)
            audit(session, principal.username, "archive_download", clock.now(), case_no, version=version, file=kind)
        return {"directory": str(found.parent), "stored_name": found.name, "content_type": content_type,
                "filename": f"{row['archive_no']}-v{version}.{suffix}"}

    def _checked_file(self, row: Mapping[str, Any], name: str) -> Path:
        manifest = package.file_of(self.root, row["path"], package.MANIFEST, row["manifest_sha256"])
        if manifest is not None and name != package.MANIFEST:
            listed = {f["path"]: f["sha256"] for f in package.read_manifest(self.root, row["path"])["files"]}
            manifest = package.file_of(self.root, row["path"], name, listed.get(name, ""))
        if manifest is None:
            raise NotFound("档案文件缺失或与归档时不符，请联系系统管理员核查")
        return manifest

    def verify(self, case_no: str | None = None) -> dict[str, Any]:
        """Check every archived version (or one case's) against its manifest: the problems found, by file."""
        with self.workflows.reading() as session:
            conn = session.connection()
            if case_no is not None and case_store.find_instance(conn, case_no) is None:
                raise scoping.case_not_found(case_no)
            rows = register.written(conn, case_no)
        problems = [{"case_no": r["case_no"], "version": r["version"], "archive_no": r["archive_no"], **problem}
                    for r in rows for problem in package.verify(self.root, r["path"], r["manifest_sha256"])]
        return {"checked": len(rows), "ok": not problems, "problems": problems}

    def show(self, case_no: str) -> dict[str, Any]:
        """A case's archive versions with each archived version's listed files (`relief archive show`)."""
        with self.workflows.reading() as session:
            conn = session.connection()
            if case_store.find_instance(conn, case_no) is None:
                raise scoping.case_not_found(case_no)
            rows = register.versions(conn, case_no)
        return {"case_no": case_no, "versions": [self._version(r) for r in rows]}

    def _version(self, row: Mapping[str, Any]) -> dict[str, Any]:
        shown = {k: row[k] for k in ("version", "status", "archive_no", "retention", "requested_at", "requested_by",
                                     "reason", "created_at", "path", "manifest_sha256", "attempts", "error")}
        if row["status"] == status.ARCHIVED:
            try:
                shown["files"] = package.read_manifest(self.root, row["path"])["files"]
            except (OSError, ValueError, KeyError):
                shown["files"] = None  # `relief archive verify` says what is wrong
        return shown


class _Skipped(Exception):
    """Another builder claimed the version first."""

