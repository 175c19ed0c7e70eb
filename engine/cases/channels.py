"""Where applications come from (受理渠道, R-5.1) and at which level they are registered, with labels."""

from __future__ import annotations

from typing import Any

from engine.i18n import _l

CHANNELS = ("window", "online", "terminal", "hotline")
LEVELS = ("county", "township", "village")
CHANNEL_LABELS = {"window": _l("窗口"), "online": _l("网上申请"), "terminal": _l("自助终端"),
                  "hotline": _l("12345热线")}
LEVEL_LABELS = {"county": _l("县级"), "township": _l("乡镇(街道)"), "village": _l("村(社区)")}


def channel_label(code: Any) -> str:
    """The label of an intake channel code."""
    return CHANNEL_LABELS.get(str(code), str(code))


def level_label(code: Any) -> str:
    """The label of an intake level code."""
    return LEVEL_LABELS.get(str(code), str(code))
