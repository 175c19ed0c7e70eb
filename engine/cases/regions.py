"""The county's regions (乡镇(街道) and 村(社区)): resolve what a channel gave into codes, or say why not.

Every channel names the applicant's place: the window and portal forms by code, the REST API and
12345 by code or by name (城东街道, T01V01, 东湖社区, 城东街道东湖社区). One resolver serves them all,
so the same place is refused with the same words whichever way it came in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from engine.models import Organisation

Region = dict[str, str | None]
Errors = dict[str, list[str]]
MAX_REGION_TEXT = 200


@dataclass(frozen=True)
class Place:
    """A township or village of the county."""

    code: str
    name: str
    kind: str
    parent: str | None


def _compact(text: Any) -> str:
    return re.sub(r"\s+", "", text) if isinstance(text, str) else ""


def places(conn: Connection, active_only: bool = False) -> list[Place]:
    """Every township and village, by code; `active_only`: those that take new cases (not 停用)."""
    query = (select(Organisation.code, Organisation.name, Organisation.kind, Organisation.parent_code)
             .where(Organisation.kind.in_(("township", "village"))).order_by(Organisation.code))
    rows = conn.execute(query.where(Organisation.active.is_(True)) if active_only else query)
    return [Place(r.code, r.name, r.kind, r.parent_code) for r in rows]


class _Gazetteer:
    """The county's places with the names each may be called by."""

    def __init__(self, conn: Connection):
        self.places = places(conn, active_only=True)  # a deactivated place takes no new case
        self.by_code = {p.code: p for p in self.places}

    def _names(self, place: Place) -> set[str]:
        names = {place.code, _compact(place.name)}
        parent = self.by_code.get(place.parent or "")
        if parent is not None and _compact(place.name).startswith(_compact(parent.name)):
            names.add(_compact(place.name)[len(_compact(parent.name)):])  # 城东街道东湖社区 → 东湖社区
        return names

    def match(self, kind: str, text: Any, parent: str | None = None) -> list[Place]:
        wanted = _compact(text)
        return [p for p in self.places if p.kind == kind and (parent is None or p.parent == parent)
                and wanted in self._names(p)]


def resolve_region(conn: Connection, region: Any, field: str = "region",
                   label: str = "区划") -> tuple[Region, Errors]:
    """Turn a region given by code or name into {township, village} codes; or return field errors.

    `region` is a township or village code/name, or a mapping {township, village} of codes or
    names; the village must lie in the township. `label` names the field in messages.
    """
    places = _Gazetteer(conn)
    if isinstance(region, str):
        return _resolve_text(places, region, field, label)
    if not isinstance(region, Mapping):
        return {}, {f"{field}.township": ["请填写所在乡镇(街道)"]}
    township_text, village_text = region.get("township"), region.get("village") or ""
    if not _compact(township_text):
        if _compact(village_text) if isinstance(village_text, str) else village_text:
            return {}, {f"{field}.township": ["请先选择村(社区)所在的乡镇(街道)"]}
        return {}, {f"{field}.township": ["请填写所在乡镇(街道)"]}
    towns = places.match("township", township_text)
    if len(towns) != 1:
        return {}, {f"{field}.township": [f"未知的乡镇(街道)：{_shown(township_text)}"]}
    if not isinstance(village_text, str):
        return {}, {f"{field}.village": ["村(社区)应为代码或名称（文本）"]}
    if not _compact(village_text):
        return {"township": towns[0].code, "village": None}, {}
    villages = places.match("village", village_text, parent=towns[0].code)
    if len(villages) != 1:
        elsewhere = places.match("village", village_text)
        reason = f"{elsewhere[0].name}不属于{towns[0].name}" if elsewhere else f"未知的村(社区)：{_shown(village_text)}"
        return {}, {f"{field}.village": [reason]}
    return {"township": towns[0].code, "village": villages[0].code}, {}


def _resolve_text(places: _Gazetteer, region: str, field: str, label: str) -> tuple[Region, Errors]:
    towns = places.match("township", region)
    if len(towns) == 1:
        return {"township": towns[0].code, "village": None}, {}
    villages = places.match("village", region)
    if len(villages) == 1:
        return {"township": villages[0].parent, "village": villages[0].code}, {}
    if len(villages) > 1:
        return {}, {field: [f"有多个名为“{_shown(region)}”的村(社区)，请同时写明乡镇(街道)"]}
    return {}, {field: [f"未知的{label}：{_shown(region)}（应为本县乡镇(街道)或村(社区)的代码或名称）"]}


def _shown(text: Any) -> str:
    value = str(text).strip()
    return value if len(value) <= 40 else value[:40] + "…"
