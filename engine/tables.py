"""The models' tables, named once, for SQLAlchemy Core statements (the step's hot path, set-based queries)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from engine.models import (
    ApiToken,
    Application,
    Attachment,
    AuditChainHead,
    AuditLog,
    CaseArchive,
    CaseEvent,
    CaseFact,
    CaseFactMatter,
    Complaint,
    Consultation,
    ContentPage,
    ContentRevision,
    DeptFact,
    FactTally,
    HotlineOrder,
    HumanTask,
    HumanTaskGroup,
    InboxEntry,
    Matter,
    MatterRevision,
    NoticeObjection,
    Notification,
    Organisation,
    OrgMatter,
    PolicyDocument,
    ProcessDefinition,
    ProcessInstance,
    PublicNotice,
    Rating,
    RatingDevice,
    RatingSubject,
    SchedulerLease,
    Suggestion,
    User,
    UserRole,
)

APPLICATION = cast(Table, Application.__table__)
ARCHIVE = cast(Table, CaseArchive.__table__)
CASE_FACT = cast(Table, CaseFact.__table__)
CASE_FACT_MATTER = cast(Table, CaseFactMatter.__table__)
ATTACHMENT = cast(Table, Attachment.__table__)
COMPLAINT = cast(Table, Complaint.__table__)
AUDIT = cast(Table, AuditLog.__table__)
AUDIT_HEAD = cast(Table, AuditChainHead.__table__)
CONSULTATION = cast(Table, Consultation.__table__)
CONTENT_PAGE = cast(Table, ContentPage.__table__)
CONTENT_REVISION = cast(Table, ContentRevision.__table__)
DEPT_FACT = cast(Table, DeptFact.__table__)
FACT_TALLY = cast(Table, FactTally.__table__)
DEFINITION = cast(Table, ProcessDefinition.__table__)
EVENT = cast(Table, CaseEvent.__table__)
HOTLINE = cast(Table, HotlineOrder.__table__)
INBOX = cast(Table, InboxEntry.__table__)
INSTANCE = cast(Table, ProcessInstance.__table__)
LEASE = cast(Table, SchedulerLease.__table__)
MATTER = cast(Table, Matter.__table__)
MATTER_REVISION = cast(Table, MatterRevision.__table__)
NOTICE = cast(Table, Notification.__table__)
OBJECTION = cast(Table, NoticeObjection.__table__)
ORGS = cast(Table, Organisation.__table__)
ORG_MATTER = cast(Table, OrgMatter.__table__)
PUBLIC_NOTICE = cast(Table, PublicNotice.__table__)
RATING = cast(Table, Rating.__table__)
RATING_DEVICE = cast(Table, RatingDevice.__table__)
RATING_SUBJECT = cast(Table, RatingSubject.__table__)
POLICY_DOCUMENT = cast(Table, PolicyDocument.__table__)
ROLES = cast(Table, UserRole.__table__)
SUGGESTION = cast(Table, Suggestion.__table__)
TASK = cast(Table, HumanTask.__table__)
TOKENS = cast(Table, ApiToken.__table__)
TASK_GROUP = cast(Table, HumanTaskGroup.__table__)
USERS = cast(Table, User.__table__)
