"""Names instead of codes (显示名称): organisations, candidate groups, people, places, channels, levels.

Pages and notices never show `T01V02`, `zhujian` or a username alone; they ask here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.channels import CHANNEL_LABELS, LEVEL_LABELS, channel_label, level_label
from engine.i18n import _l
from engine.models import Organisation, User
from engine.reference import ReferenceData
from engine.status import USER_GROUP

SYSTEM_ACTORS = {"system": _l("系统"), "scheduler": _l("系统定时任务"), "applicant": _l("申请人（网上申请）"),
                 "cli": _l("命令行"), "make": _l("系统部署"), "portal": _l("公众（门户网站）")}


def org_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    """Organisation code → name for the given codes that exist."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    rows = session.execute(select(Organisation.code, Organisation.name).where(Organisation.code.in_(wanted)))
    return {code: name for code, name in rows}


def group_labels(session: Session, reference: ReferenceData, groups: Iterable[str]) -> dict[str, str]:
    """Names of candidate groups: organisation names, else role names, else the code; a candidate user
    (`user:<name>`) by the person's name."""
    codes = list(dict.fromkeys(groups))
    names = org_names(session, codes)
    people = actor_names(session, [g[len(USER_GROUP):] for g in codes if g.startswith(USER_GROUP)])
    return {g: people.get(g[len(USER_GROUP):], g[len(USER_GROUP):]) if g.startswith(USER_GROUP)
            else names.get(g) or reference.role_name(g) for g in codes}


def actor_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    """Username → '张三（zhangsan）'; the engine's own actors by what they are."""
    names = dict(SYSTEM_ACTORS)
    people = display_names(session, {u for u in usernames if u} - names.keys())
    names.update({username: f"{display}（{username}）" for username, display in people.items()})
    return names


def display_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    """Username → the person's name alone (for what applicants read, e.g. the receipt)."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted)))
    return {username: name for username, name in rows}


def place(names: Mapping[str, str], township: str | None, village: str | None) -> str:
    """'城东街道 东湖社区' from region codes; a village named after its township says the township once."""
    town = names.get(township or "", township or "")
    spot = names.get(village, village) if village else ""
    return spot if spot and spot.startswith(town) else f"{town} {spot}".strip()


__all__ = ["CHANNEL_LABELS", "LEVEL_LABELS", "actor_names", "channel_label", "group_labels", "level_label",
           "org_names", "place"]
