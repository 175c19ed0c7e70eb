"""现场评价 (R-6.3.6): the evaluation tablet at a window — its device record, pairing, and the visit it offers.

A window's tablet is a `rating_device`: a name, the window (organisation) and the clerk who serves there,
and a token an administrator makes once (shown once; only its SHA-256 is kept, as for API tokens). The
tablet pairs with the token, never with a staff password; a revoked device is refused at once.

What a tablet offers for rating: its clerk's most recent consultation (咨询登记) at its window from the
last 30 minutes, while that one is not rated. Only the most recent: once it is rated the tablet waits for
the next registration, so an older visit left unrated is never put before the next visitor. An application
registered at the window is not offered: `Ratings.rate_case` rates a case once it has ended (办结), days
later, so its applicant rates it then on the portal with the receipt's query code; the tablet rates visits.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session

from engine import clock, db
from engine.access import scoping
from engine.access.accounts import TOKEN_TOUCH_EVERY, audit, token_hash
from engine.access.personal_data import mask_name
from engine.access.principals import Principal
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.models import Organisation, RatingDevice, User, UserRole
from engine.tables import CONSULTATION, RATING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.cases.runtime import CaseEngine

CHANNEL = "window"
PENDING_WITHIN = timedelta(minutes=30)  # how long after its registration a visit waits for its rating
TOKEN_PREFIX = "RDV"
TOKEN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: typed by hand on a tablet
TOKEN_GROUPS, GROUP_LENGTH = 6, 4  # 24 characters of 31: about 119 bits
MAX_NAME = 100
WRONG_TOKEN = "设备令牌不正确或该设备已停用，请联系系统管理员"
REVOKED = "该评价设备已停用或不存在，请联系系统管理员重新配对"
OPERATOR = "cli"  # the actor of a shell command given no administrator (`relief device revoke ID`)


def new_token() -> str:
    """A fresh device token as shown to the administrator: RDV-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX."""
    groups = ("".join(secrets.choice(TOKEN_ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(TOKEN_GROUPS))
    return "-".join((TOKEN_PREFIX, *groups))


def canonical_token(typed: str) -> str:
    """A token as typed (any case, with or without dashes, spaces or the prefix) in the one form that is hashed."""
    bare = re.sub(r"[^0-9A-Z]", "", typed.upper())
    return TOKEN_PREFIX + bare if len(bare) == TOKEN_GROUPS * GROUP_LENGTH else bare


def device_hash(typed: str) -> str:
    """What is kept of a device token: the SHA-256 of its canonical form (`accounts.token_hash`)."""
    return token_hash(canonical_token(typed))


def device_errors(session: Session, name: str, org_code: str, clerk: str) -> dict[str, list[str]]:
    """The one check of a new device: a name, a window's organisation and an active clerk of that window."""
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["请填写设备名称（如 东湖社区 1 号窗口评价器）"]
    elif len(name) > MAX_NAME:
        errors["name"] = [f"设备名称不能超过 {MAX_NAME} 个字"]
    org = session.get(Organisation, org_code) if org_code else None
    if org is None:
        errors["org_code"] = [f"未知机构代码：{org_code}" if org_code else "请选择窗口所在机构"]
    elif org.kind not in scoping.WINDOW_LEVELS:
        errors["org_code"] = [f"{org.name}不是受理窗口（社会救助中心、乡镇（街道）或村（社区））"]
    user = session.scalar(select(User).where(User.username == clerk, User.active.is_(True))) if clerk else None
    if user is None:
        errors["clerk"] = [f"用户 {clerk} 不存在或已停用" if clerk else "请填写窗口工作人员的用户名"]
    elif "clerk" not in {r.role for r in user.roles}:
        errors["clerk"] = [f"{user.display_name}（{clerk}）不是窗口工作人员"]
    elif org is not None and user.org_code != org.code:
        errors["clerk"] = [f"{user.display_name}（{clerk}）不在{org.name}的窗口"]
    return errors


def record_of(session: Session, device: RatingDevice) -> dict[str, Any]:
    """A device as lists and the CLI show it (never its token or hash)."""
    org = session.get(Organisation, device.org_code)
    clerk = session.scalar(select(User.display_name).where(User.username == device.clerk))
    return {"id": device.id, "name": device.name, "org_code": device.org_code, "org_name": org.name if org else "",
            "clerk": device.clerk, "clerk_name": clerk or device.clerk, "created_by": device.created_by,
            "created_at": device.created_at, "last_used_at": device.last_used_at, "revoked_at": device.revoked_at,
            "live": device.revoked_at is None}


def latest_visit(session: Session, device: RatingDevice) -> Row[Any] | None:
    """The most recent consultation its clerk registered at its window, and whether it is rated."""
    rated = select(RATING.c.id).where(RATING.c.consultation_id == CONSULTATION.c.id).exists()
    return session.execute(
        select(CONSULTATION.c.id, CONSULTATION.c.visitor_name, CONSULTATION.c.matters, CONSULTATION.c.created_at,
               rated.label("rated"))
        .where(CONSULTATION.c.registered_by == device.clerk, CONSULTATION.c.registered_org == device.org_code)
        .order_by(CONSULTATION.c.created_at.desc(), CONSULTATION.c.id.desc()).limit(1)).first()


def on_offer(visit: Row[Any] | None, now: datetime) -> bool:
    """Is this (latest) visit the one the tablet offers: registered in the last PENDING_WITHIN, not rated."""
    return visit is not None and not visit.rated and clock.aware(visit.created_at) >= now - PENDING_WITHIN


def window_clerks(session: Session) -> list[dict[str, str]]:
    """The active clerks of every window (center, township, village), by window and name."""
    rows = session.execute(
        select(User.username, User.display_name, Organisation.code, Organisation.name)
        .join(Organisation, Organisation.code == User.org_code)
        .where(User.active.is_(True), Organisation.kind.in_(list(scoping.WINDOW_LEVELS)),
               User.id.in_(select(UserRole.user_id).where(UserRole.role == "clerk")))
        .order_by(Organisation.code, User.display_name))
    return [{"username": r[0], "name": r[1], "org_code": r[2], "org_name": r[3]} for r in rows]


def touch_device(session: Session, device_id: int, at: datetime) -> None:
    """Record a device's use at `at`, at most once per TOKEN_TOUCH_EVERY (the tablet polls every few seconds)."""
    session.execute(update(RatingDevice).where(
        RatingDevice.id == device_id,
        or_(RatingDevice.last_used_at.is_(None), RatingDevice.last_used_at <= at - TOKEN_TOUCH_EVERY))
        .values(last_used_at=at))


class RatingDevices:
    """The windows' evaluation tablets (`CaseEngine.devices`): administered by administrators (scoping
    `devices`; `None` for an operator at the shell), used by the tablets through their device id."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine
        self.sessions = engine.sessions

    # -- administering ------------------------------------------------------------------------

    def create(self, principal: Principal | None, name: str, org_code: str, clerk: str) -> dict[str, Any]:
        """Register a window's tablet → its record with `token`, shown this once; audited. InvalidData when
        the name, window or clerk is wrong."""
        actor = _allowed(principal)
        name, org_code, clerk = name.strip(), org_code.strip(), clerk.strip()
        now = clock.now()
        with db.transaction(self.sessions) as session:
            errors = device_errors(session, name, org_code, clerk)
            if errors:
                raise InvalidData("无法登记评价设备", errors)
            token = new_token()
            device = RatingDevice(name=name, org_code=org_code, clerk=clerk, token_hash=device_hash(token),
                                  created_by=actor, created_at=now)
            session.add(device)
            session.flush()
            audit(session, actor, "rating_device_created", now, f"rating_device:{device.id}", name=name,
                  org=org_code, clerk=clerk)
            return {**record_of(session, device), "token": token}

    def list(self, principal: Principal | None) -> list[dict[str, Any]]:
        """Every device, the live ones first, each window's together."""
        _allowed(principal)
        with db.transaction(self.sessions, read_only=True) as session:
            devices = session.scalars(select(RatingDevice).order_by(
                RatingDevice.revoked_at.is_not(None), RatingDevice.org_code, RatingDevice.id))
            return [record_of(session, d) for d in devices]

    def overview(self, principal: Principal) -> dict[str, Any]:
        """The administrators' page: every device (`list`) and the clerks a new one may serve, each with
        their window — {"devices": [...], "clerks": [{username, name, org_code, org_name}]}."""
        devices = self.list(principal)
        with db.transaction(self.sessions, read_only=True) as session:
            return {"devices": devices, "clerks": window_clerks(session)}

    def revoke(self, principal: Principal | None, device_id: int) -> dict[str, Any]:
        """Revoke a device: its tablet is refused from its next request on; audited. NotFound, or
        TaskConflict when it was revoked already."""
        actor = _allowed(principal)
        now = clock.now()
        with db.transaction(self.sessions) as session:
            device = session.get(RatingDevice, device_id)
            if device is None:
                raise NotFound(f"评价设备不存在：{device_id}")
            if device.revoked_at is not None:
                raise TaskConflict(f"评价设备「{device.name}」已于 {clock.local_text(device.revoked_at)} 停用")
            device.revoked_at = now
            audit(session, actor, "rating_device_revoked", now, f"rating_device:{device.id}", name=device.name,
                  org=device.org_code, clerk=device.clerk)
            return record_of(session, device)

    # -- the tablet ---------------------------------------------------------------------------

    def pair(self, token: str) -> dict[str, Any]:
        """The live device of a token, for a tablet to remember by id; audited. NotFound for a wrong or
        revoked token (the two are not told apart)."""
        now = clock.now()
        with db.transaction(self.sessions) as session:
            device = session.scalar(select(RatingDevice).where(
                RatingDevice.token_hash == device_hash(token), RatingDevice.revoked_at.is_(None)))
            if device is None:
                raise NotFound(WRONG_TOKEN)
            device.last_used_at = now
            audit(session, f"device:{device.id}", "rating_device_paired", now, f"rating_device:{device.id}")
            return record_of(session, device)

    def screen(self, device_id: int) -> dict[str, Any]:
        """What the tablet shows: its window and clerk, the visit on offer (masked name, time, matters) or
        None, and the window channel's levels and tags. NotFound once the device is revoked."""
        now = clock.now()
        with db.transaction(self.sessions, read_only=True) as session:
            device = _live(session, device_id)
            visit = latest_visit(session, device)
            shown = record_of(session, device)
            stale = device.last_used_at is None or now - clock.aware(device.last_used_at) >= TOKEN_TOUCH_EVERY
        if stale:
            with db.transaction(self.sessions) as session:
                touch_device(session, device_id, now)
        offered = None
        if on_offer(visit, now):
            assert visit is not None
            offered = {"id": visit.id, "visitor": mask_name(visit.visitor_name), "created_at": visit.created_at,
                       "matters": [self.engine.settings.reference.matter_name(c) for c in visit.matters or []]}
        return {"device": shown, "visit": offered, "options": self.engine.ratings.options(CHANNEL)}

    def rate(self, device_id: int, consultation_id: int, level: str, tags: Sequence[str] = (),
             comment: str = "") -> dict[str, Any]:
        """The visitor's rating on the tablet, of the visit it offers (`Ratings.rate_visit`, by `device:<id>`):
        NotFound for a revoked device or a visit not of its clerk and window, TaskConflict for a visit no
        longer on offer or already rated."""
        now = clock.now()
        with db.transaction(self.sessions, read_only=True) as session:
            device = _live(session, device_id)
            visit = latest_visit(session, device)
            mine = session.execute(select(CONSULTATION.c.id).where(
                CONSULTATION.c.id == consultation_id, CONSULTATION.c.registered_by == device.clerk,
                CONSULTATION.c.registered_org == device.org_code)).first()
        if mine is None:
            raise NotFound("本设备没有这次服务的登记")
        if visit is None or visit.id != consultation_id:
            raise TaskConflict("窗口已登记新的服务，请为最新一次服务评价")
        if not visit.rated and not on_offer(visit, now):
            raise TaskConflict(f"本次服务登记已超过 {int(PENDING_WITHIN.total_seconds() // 60)} 分钟，不能再在窗口评价")
        with db.transaction(self.sessions) as session:
            touch_device(session, device_id, now)
        return self.engine.ratings.rate_visit(consultation_id, level, tags, comment, actor=f"device:{device_id}",
                                              channel=CHANNEL)


def _allowed(principal: Principal | None) -> str:
    """The acting administrator's username (Forbidden for anyone else), or the shell operator's."""
    if principal is None:
        return OPERATOR
    scoping.require(principal, "devices")
    return principal.username


def _live(session: Session, device_id: int) -> RatingDevice:
    device = session.get(RatingDevice, device_id)
    if device is None or device.revoked_at is not None:
        raise NotFound(REVOKED)
    return device
