"""Database models of the engine: definitions, cases, instances, human tasks, events, notices."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, hand back aware UTC datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the engine's models; the web app's Flask-SQLAlchemy is built over it."""

    # On the registry, not the class: Flask-SQLAlchemy derives its Model from this base and shares it.
    registry = registry(type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON})


class ProcessDefinition(Base):
    """One deployed version of a BPMN process (key + version)."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    xml: Mapped[str] = mapped_column(Text, deferred=True)  # only the spec cache reads it, once
    checksum: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[str] = mapped_column(String(100))
    deployed_at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)
    # The model is that of the version before; only the diagram (BPMN DI) moved (仅布局).
    layout_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # "bpmn" (a process) or "dmn" (a decision table, keyed by its decision id).
    kind: Mapped[str] = mapped_column(String(10), default="bpmn", server_default="bpmn")
    # What its call activities and business rule tasks reach, pinned at deploy: key → definition id.
    depends_on: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Application(Base):
    """A request for relief from any channel (R-5.1); its case number is the business key."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    applicant_name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    phone: Mapped[str] = mapped_column(String(30))
    township: Mapped[str] = mapped_column(String(60), index=True)
    village: Mapped[str | None] = mapped_column(String(60), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    request: Mapped[str] = mapped_column(Text)
    matters: Mapped[list[Any]] = mapped_column(default=list)
    # What the applicant told of their situation (forms/situation.json): the suggestion table's input.
    situation: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime]
    registered_by: Mapped[str | None] = mapped_column(String(100))
    registered_org: Mapped[str | None] = mapped_column(String(60), index=True)
    query_code_hash: Mapped[str | None] = mapped_column(String(64))

    # The case query's order and its 登记日期 period (R-6.4.2: the query page, exports, the API).
    __table_args__ = (Index("ix_application_created", "created_at", "case_no"),)


class ProcessInstance(Base):
    """A running or finished case process; `state` is the workflow without its spec."""

    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    state: Mapped[str] = mapped_column(Text)
    # A case that ended keeps its state compressed here (zlib), `state` then empty: it is never run again.
    state_archive: Mapped[bytes | None] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    # 待补正 since: the case waits for the applicant's supplement; None when it does not
    supplement_since: Mapped[datetime | None] = mapped_column(index=True)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": lock_version}
    # The instance list (流程实例监控) pages newest first, overall and per status, and counts per
    # definition; SQLite keeps the large `state` in the row, so these are read index-only.
    __table_args__ = (Index("ix_process_instance_status_timer", "status", "next_timer_at"),
                      Index("ix_process_instance_started", "started_at", "id"),
                      Index("ix_process_instance_status_started", "status", "started_at", "id"),
                      Index("ix_process_instance_definition_case", "definition_id", "case_no"))


class HumanTask(Base):
    """A user task mirrored out of the workflow so inboxes never deserialize workflows."""

    __tablename__ = "human_task"
    __table_args__ = (Index("ix_human_task_instance_state", "instance_id", "state"),
                      Index("ix_human_task_state_overdue_due", "state", "overdue_since", "due_at"),
                      # the heat view: tasks completed in a period, and open tasks per step
                      Index("ix_human_task_state_completed", "state", "completed_at"),
                      Index("ix_human_task_state_instance_spec", "state", "instance_id", "task_spec"),
                      # the dashboard's scope: the cases of the tasks a user holds (`scoping.fact_filter`)
                      Index("ix_human_task_assignee_case", "assignee", "case_no"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    case_no: Mapped[str] = mapped_column(String(40), index=True)
    task_spec: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    form_key: Mapped[str] = mapped_column(String(100))
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assignee: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any] | None]
    overdue_since: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]

    # Group rows exist for indexed inbox queries; the JSON column above is what gets displayed.
    groups: Mapped[list[HumanTaskGroup]] = relationship(cascade="all, delete-orphan", lazy="select")


class HumanTaskGroup(Base):
    """One candidate group of a human task, so group inbox queries use an index."""

    __tablename__ = "human_task_group"

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    group_code: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class InboxEntry(Base):
    """One open task as one viewer finds it in the inbox: a row per (viewer key, READY task of an open
    case), with the sort keys and filter columns copied from the task and its application, so a page
    is an index range read per viewer key (`engine.cases.inbox_index` writes them, `engine.access.scoping`
    decides the keys). Undated tasks sort last through `due_key` (`inbox_index.UNDATED`)."""

    __tablename__ = "inbox_entry"
    # The priority index (the inbox's default order) carries every filter column too, so a filtered
    # page and its count read that index alone.
    __table_args__ = (Index("ix_inbox_entry_priority", "viewer", "green_rank", "due_key", "created_at", "task_id",
                            "township", "channel", "matters", "name"),
                      # the center's most used filter: a township's tasks, counted and paged by this index
                      Index("ix_inbox_entry_township", "viewer", "township", "green_rank", "due_key", "created_at",
                            "task_id"),
                      Index("ix_inbox_entry_due", "viewer", "due_key", "created_at", "task_id"),
                      Index("ix_inbox_entry_created", "viewer", "created_at", "task_id"),
                      Index("ix_inbox_entry_name", "viewer", "name", "due_key", "task_id"),
                      Index("ix_inbox_entry_task", "task_id"),
                      Index("ix_inbox_entry_case", "case_no", "viewer"))

    viewer: Mapped[str] = mapped_column(String(110), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    case_no: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    green_rank: Mapped[int] = mapped_column(Integer)  # 0: 绿色通道 first
    due_key: Mapped[datetime]
    created_at: Mapped[datetime]
    township: Mapped[str | None] = mapped_column(String(60))
    channel: Mapped[str | None] = mapped_column(String(20))
    matters: Mapped[str] = mapped_column(String(500), default="")  # "|code|code|", for a LIKE filter
    # The task came back with the applicant's supplement (补正后待审, R-6.2.2): its new files wait for review
    supplemented: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CaseEvent(Base):
    """An append-only entry of a case's history (R-6.1.2.2 full-process tracking)."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case_seq", "case_no", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    task_name: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Notification(Base):
    """An outbox entry: a notice to an applicant (SMS), a member of staff (in-app) or 12345 (回单)."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_notification_dedup_key"),
                      Index("ix_notification_status_next_attempt", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(40), default="applicant")
    kind: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime]
    # Outbox delivery (issue 4): channel in_app / sms / hotline; a key makes each notice unique.
    channel: Mapped[str] = mapped_column(String(20), default="sms", server_default="sms")
    username: Mapped[str | None] = mapped_column(String(100), index=True)
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class CaseSequence(Base):
    """Per-day counter for case numbers, updated under the row lock."""

    __tablename__ = "case_sequence"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Organisation(Base):
    """A unit of the county (R-6.1.4): the center, a department, the joint office, a township or village."""

    __tablename__ = "organisation"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("organisation.code"), index=True)
    # The window's public details (办事大厅 ): '' while not published; `engine.access.orgs` checks them.
    address: Mapped[str] = mapped_column(String(200), default="", server_default="")
    hours: Mapped[str] = mapped_column(String(200), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # 停用: never deleted once it has cases or users; a deactivated one takes no new work
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class OrgMatter(Base):
    """A matter a service window takes (办事大厅: 可办事项)."""

    __tablename__ = "org_matter"

    org_code: Mapped[str] = mapped_column(ForeignKey("organisation.code", ondelete="CASCADE"), primary_key=True)
    matter_code: Mapped[str] = mapped_column(ForeignKey("matter.code", ondelete="CASCADE"), primary_key=True,
                                             index=True)


class User(Base):
    """A staff member (or the 12345 integration account) of one organisation."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    org_code: Mapped[str] = mapped_column(ForeignKey("organisation.code"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    can_unmask: Mapped[bool] = mapped_column(Boolean, default=False)
    is_supervisor: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # set by a password reset (and a bulk import): the next sign-in must change it first
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class UserRole(Base):
    """One role of a user (a user has one or more)."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True, index=True)


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SavedFilter(Base):
    """An inbox filter a user saved under a name."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class HotlineOrder(Base):
    """A 12345 work order (R-5.1.3), unique by its order number, and the case it started."""

    __tablename__ = "hotline_order"

    order_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]


class Attachment(Base):
    """An uploaded application material (电子化归档, R-6.1.2.2), stored on disk by content hash."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]


class AuditLog(Base):
    """Security-relevant actions: sign-in, lockout, unmasking personal data, exports, tokens (R-6.4.3).

    A hash chain (`engine.audit.chain`): `seq` numbers the entries in the order they were committed, each
    `row_hash` covers the entry and the `prev_hash` of the one before, so an edit, a deletion, an insertion
    or a change of order shows (`engine.audit.verify`)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_seq", "seq", unique=True), Index("ix_audit_log_action", "action"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The audit log's chain head (one row): the last entry's seq and hash, which every write locks and moves,
    the anchor the chain starts from (the first kept entry's seq and prev_hash; moved by pruning), and the
    last check's day and verdict (the daily job runs once a day)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    verified_on: Mapped[date | None]
    verified_at: Mapped[datetime | None]
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Consultation(Base):
    """A consultation registered at a window (咨询登记, R-5.1.1): recorded, no process started."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    township: Mapped[str | None] = mapped_column(String(60), index=True)
    village: Mapped[str | None] = mapped_column(String(60))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    matters: Mapped[list[Any]] = mapped_column(default=list)
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_org: Mapped[str] = mapped_column(String(60), index=True)
    created_at: Mapped[datetime]

    # A window tablet asks every few seconds for its clerk's latest visit (engine.feedback.devices).
    __table_args__ = (Index("ix_consultation_clerk_created", "registered_by", "created_at"),)


class SchedulerLease(Base):
    """A named lease: the one scheduler process allowed to run the jobs until `expires_at`."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # The deadline ticks its holders ran (kept across a hand-over; a clean stop deletes the row) and when the
    # last one ended: the web app's /metrics and /readyz read them, the scheduler being another process.
    ticks: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_tick_at: Mapped[datetime | None]


class Matter(Base):
    """A matter of the catalog (事项清单, R-6.1.3.1): the standard's seven fields, what the platform
    needs to run it, and each material with its review standard (审查标准, R-6.1.3.2)."""

    __tablename__ = "matter"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(40))  # 实施部门 (departments.yaml)
    assistance_type: Mapped[str] = mapped_column(String(40))  # 救助类别
    recipients: Mapped[str] = mapped_column(Text)  # 救助对象
    procedure: Mapped[str] = mapped_column(Text)  # 办理程序
    content: Mapped[str] = mapped_column(Text)  # 救助内容
    materials: Mapped[list[Any]] = mapped_column(default=list)  # 所需材料, each with its 审查标准
    basis: Mapped[str] = mapped_column(Text)  # 政策依据
    process_key: Mapped[str] = mapped_column(String(100), default="relief_linkage")
    due_workdays: Mapped[int | None] = mapped_column(Integer)  # 办理时限（工作日）
    place: Mapped[str] = mapped_column(Text, default="")  # 办理窗口/地点
    noticed: Mapped[bool] = mapped_column(Boolean, default=False)  # approved cases are publicly noticed (救助公示)
    retention: Mapped[str] = mapped_column(String(20), default="30y", server_default="30y")  # 保管期限 of its archives
    status: Mapped[str] = mapped_column(String(20))  # active 在用 / disabled 停用 / unconfirmed 待县确认
    position: Mapped[int] = mapped_column(Integer, default=0)  # the catalog's order
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class MatterRevision(Base):
    """One change of a matter: who, when, why, and the whole record before and after (for the diff
    and for restoring it)."""

    __tablename__ = "matter_revision"
    __table_args__ = (UniqueConstraint("code", "revision", name="uq_matter_revision_code_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)


class PolicyDocument(Base):
    """A policy document the portal publishes (政策法规, R-6.2.1): Markdown text and/or a PDF."""

    __tablename__ = "policy_document"
    # The portal's list: the published documents, newest first.
    __table_args__ = (Index("ix_policy_document_status_issued", "status", "issued_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    doc_number: Mapped[str | None] = mapped_column(String(100))  # 文号
    issuer: Mapped[str] = mapped_column(String(200))  # 发文机关
    issued_on: Mapped[date] = mapped_column(Date)  # 成文/发布日期
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))  # stored under the upload directory by hash
    pdf_filename: Mapped[str | None] = mapped_column(String(255))
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # published 已发布 / withdrawn 已撤回
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class ContentPage(Base):
    """A page of the portal an administrator writes, by its slug: 中心简介 (`about`), later 办事指南 …"""

    __tablename__ = "content_page"
    __table_args__ = (UniqueConstraint("slug", name="uq_content_page_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    status: Mapped[str] = mapped_column(String(20))  # published / withdrawn
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class ContentRevision(Base):
    """One save of a policy document or portal page: who, when, why, and the whole record after it
    (for the diff between revisions and for restoring one)."""

    __tablename__ = "content_revision"
    __table_args__ = (UniqueConstraint("kind", "item_id", "revision", name="uq_content_revision_kind_item_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # policy / page
    item_id: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # created, edited, withdrawn, published, restored
    restored_from: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class PublicNotice(Base):
    """An entry of 救助公示 (R-6.2.1): an approved case of a noticed matter, published for its notice period
    with only what eligibility needs — masked name, village, matter, household size, amount."""

    __tablename__ = "public_notice"
    __table_args__ = (Index("ix_public_notice_status_ends", "status", "ends_at"),
                      Index("ix_public_notice_list", "status", "township", "village", "published_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), index=True)
    matter: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(40))
    masked_name: Mapped[str] = mapped_column(String(100))
    township: Mapped[str | None] = mapped_column(String(60))
    village: Mapped[str | None] = mapped_column(String(60))
    household_size: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[float | None]
    published_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))  # active 公示中 / ended 公示期满 / withdrawn 已撤回
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)


class NoticeObjection(Base):
    """An objection (异议) to a 救助公示 entry, raised from the portal; it is worked as a process of its own."""

    __tablename__ = "notice_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("public_notice.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(100))  # optional; never shown on the portal
    review_case_no: Mapped[str | None] = mapped_column(String(40))  # the notice_objection process's case
    created_at: Mapped[datetime]


class Rating(Base):
    """A 好差评 rating (R-6.3.6): one per case (and one 追评 after a 差评's rectification) or per window
    visit (a consultation), from the portal, a window's tablet or the 12345 callback."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("case_no", "follow_up", name="uq_rating_case_follow_up"),
                      Index("ix_rating_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str | None] = mapped_column(String(40))
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultation.id"), unique=True)
    follow_up: Mapped[bool] = mapped_column(Boolean, default=False)  # 追评, after the rectification
    channel: Mapped[str] = mapped_column(String(20))  # portal 网上 / window 现场 / hotline 12345回访
    level: Mapped[str] = mapped_column(String(30), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    org_code: Mapped[str | None] = mapped_column(String(60), index=True)  # the window that registered it
    clerk: Mapped[str | None] = mapped_column(String(100), index=True)  # the clerk who registered it
    rectification_case_no: Mapped[str | None] = mapped_column(String(40), index=True)  # 差评整改 process
    rated_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    month: Mapped[str] = mapped_column(String(7), index=True)  # 2026-12, local time: what statistics group by


class RatingSubject(Base):
    """What a rating is about besides its window and clerk: each matter of the case and each department
    that handled it (kind `matter` / `department`), so the statistics group by either."""

    __tablename__ = "rating_subject"
    __table_args__ = (Index("ix_rating_subject_code", "kind", "code"),)

    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
class CaseArchive(Base):
    """One version of an ended case's electronic archive (电子化归档, R-6.1.2.2): due (pending) in the step
    that ends the case, built later (the PDF case file, the materials and a manifest written once under the
    archive directory). A correction adds a version; no version is ever changed once archived."""

    __tablename__ = "case_archive"
    __table_args__ = (UniqueConstraint("case_no", "version", name="uq_case_archive_case_version"),
                      UniqueConstraint("archive_no", "version", name="uq_case_archive_no_version"),
                      Index("ix_case_archive_status_next", "status", "next_attempt_at"),
                      Index("ix_case_archive_year_matter", "year", "matter", "sequence"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # pending 待归档 / archived 已归档 (engine.status)
    # 档号: year-matter-sequence (2026-linshi-0001), the same for every version of a case; set when built
    archive_no: Mapped[str | None] = mapped_column(String(80))
    year: Mapped[int | None] = mapped_column(Integer)
    matter: Mapped[str | None] = mapped_column(String(40))
    sequence: Mapped[int | None] = mapped_column(Integer)
    retention: Mapped[str | None] = mapped_column(String(20))  # 保管期限 (engine.catalog.records.RETENTIONS)
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)  # why a later version was made
    created_at: Mapped[datetime | None]  # when this version was written
    path: Mapped[str | None] = mapped_column(String(300))  # its folder, relative to the archive directory
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)  # the last failure (the row stays pending and is retried)


class RatingDevice(Base):
    """A window's evaluation tablet (现场评价器, R-6.3.6): it signs in with its own token, of which only the
    SHA-256 is kept, and offers its clerk's latest visit at that window for rating."""

    __tablename__ = "rating_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    org_code: Mapped[str] = mapped_column(ForeignKey("organisation.code"), index=True)
    clerk: Mapped[str] = mapped_column(String(100))  # the username of the clerk at that window
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Complaint(Base):
    """A complaint (投诉反馈, R-6.2.1, R-6.3.6) from the portal, a window, a 12345 work order or the 监督投诉电话,
    worked as the process `complaint` whose case number (TS…) is `complaint_no`. Name and phone are personal
    data (masked in every view); an anonymous complaint has neither."""

    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_month_handler", "month", "handler_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_no: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # portal / window / hotline / phone (监督投诉电话)
    complaint_type: Mapped[str] = mapped_column(String(40), index=True)  # data/complaint_types.yaml
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    query_code_hash: Mapped[str | None] = mapped_column(String(64))  # the complainant follows it with the code
    relief_case_no: Mapped[str | None] = mapped_column(String(40), index=True)  # the relief case it is about
    about_org: Mapped[str | None] = mapped_column(String(60), index=True)  # the organisation complained about
    about_user: Mapped[str | None] = mapped_column(String(100), index=True)  # the person: never its handler
    handler_org: Mapped[str] = mapped_column(String(60))  # who handles it (承办单位)
    status: Mapped[str] = mapped_column(String(20), index=True)
    finding: Mapped[str | None] = mapped_column(String(30))  # the result: 属实 / 部分属实 / 不属实
    reply: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(30))
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_org: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    month: Mapped[str] = mapped_column(String(7))  # 2026-12, local time: what statistics group by


class Suggestion(Base):
    """An entry of the 意见簿 (comment book, R-6.3.6): written on the portal, or given on paper in the hall and
    entered by a clerk; answered by the center, and shown on the portal with its answer when marked public.
    The contact is never shown."""

    __tablename__ = "suggestion"
    __table_args__ = (Index("ix_suggestion_public_answered", "public", "answered_at"),
                      Index("ix_suggestion_answered_created", "answered_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # portal / hall
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(100))
    entered_by: Mapped[str | None] = mapped_column(String(100))  # the clerk who typed in a paper one
    entered_org: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None]
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    month: Mapped[str] = mapped_column(String(7), index=True)


class CaseFact(Base):
    """The dashboard's row of one case (数据汇聚展示, R-6.4.1): what its charts group and filter by, copied from
    the application, the instance, its tasks and its first 好差评 in the transaction that changed them
    (`engine.dashboard.facts`). Local calendar fields (`day`, `month`, `weekday`, `hour`) are the
    registration's, in the county's time zone."""

    __tablename__ = "case_fact"
    # Each chart's GROUP BY reads one of these alone (index-only) under the filters that lead it.
    __table_args__ = (Index("ix_case_fact_day", "day", "status", "channel", "level", "township", "handling_hours"),
                      Index("ix_case_fact_township", "township", "village", "day", "status", "channel"),
                      Index("ix_case_fact_channel", "channel", "day", "status", "level", "township"),
                      Index("ix_case_fact_clock", "day", "weekday", "hour", "township", "channel"),
                      Index("ix_case_fact_registered_org", "registered_org"),
                      Index("ix_case_fact_village", "village", "day"))

    case_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    registered_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday … 6 Sunday
    hour: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    township: Mapped[str] = mapped_column(String(60))
    village: Mapped[str | None] = mapped_column(String(60))
    registered_org: Mapped[str | None] = mapped_column(String(60))
    green: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(30))
    ended_at: Mapped[datetime | None]
    handling_seconds: Mapped[int | None] = mapped_column(BigInteger)  # registration → end, once ended
    handling_hours: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Float, default=0)  # 救助金额 of its departments' results, 元
    rating: Mapped[str | None] = mapped_column(String(30))  # the first 好差评's level


class CaseFactMatter(Base):
    """One matter of a case on the dashboard, with the amount its department granted (`facts`)."""

    __tablename__ = "case_fact_matter"
    __table_args__ = (Index("ix_case_fact_matter_matter", "matter", "case_no", "amount"),
                      Index("ix_case_fact_matter_township", "matter", "township", "case_no"))

    case_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    matter: Mapped[str] = mapped_column(String(40), primary_key=True)
    # the case's township, as case_fact says: a matter's cases in one township are one index range
    township: Mapped[str] = mapped_column(String(60), default="", server_default="")
    amount: Mapped[float] = mapped_column(Float, default=0)


class DeptFact(Base):
    """One candidate group (a department, the joint office, a township, a user …) that held a task of a case,
    on the dashboard: when it received the case, whether it is done, whether it ran late, how long it took."""

    __tablename__ = "dept_fact"
    __table_args__ = (Index("ix_dept_fact_group", "group_code", "case_no", "done", "overdue", "open_due_at",
                            "handling_hours", "handling_seconds"),
                      Index("ix_dept_fact_late", "overdue", "open_due_at"),  # open, past due, not yet flagged
                      Index("ix_dept_fact_group_township", "group_code", "township"))

    case_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    group_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    # the case's township, as case_fact says: a township's groups hold its villages' cases, and the few of
    # another township are one index range (`scoping.fact_scope`)
    township: Mapped[str] = mapped_column(String(60), default="", server_default="")
    received_at: Mapped[datetime]
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # no open task left, one completed
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)  # flagged, or completed after its due time
    open_due_at: Mapped[datetime | None]  # the earliest due time of its open tasks (overdue once it passes)
    handling_seconds: Mapped[int | None] = mapped_column(BigInteger)  # first task created → last completed
    handling_hours: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Float, default=0)


class FactTally(Base):
    """The dashboard's tally (`engine.dashboard.facts.tally_of`): the fact rows of the cases registered on one
    local day, summed per slice (the county; a township, channel, level or department; a case's matters
    together; its status and level …) and per dimension a chart groups by (`dim`: status, channel, level,
    hour, handling, region, matter, dept, dept_days, with its `code` and `sub`). Kept as a delta by
    `facts.refresh` in the transaction of the change."""

    __tablename__ = "fact_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    slice: Mapped[str] = mapped_column(String(20), primary_key=True)
    slice_code: Mapped[str] = mapped_column(String(400), primary_key=True)  # MATTERS: several matter codes
    dim: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    sub: Mapped[str] = mapped_column(String(60), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)  # cases (dept: the cases the group received)
    ended: Mapped[int] = mapped_column(BigInteger, default=0)
    cents: Mapped[int] = mapped_column(BigInteger, default=0)  # 救助金额 in 分
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    late: Mapped[int] = mapped_column(BigInteger, default=0)  # flagged overdue, or completed after the due time
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)  # handling time of the done ones
