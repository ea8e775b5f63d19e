"""What monitoring does when an upper level speaks: its framework versions and periods are adopted here, and its
acceptance of a level held here is applied to that level."""

from __future__ import annotations

from datetime import datetime

from dudao import jurisdiction
from dudao.consumer import InboundEvent
from dudao.effects import Reacting
from dudao.errors import Conflict
from services.monitoring.domain.collection import LevelApproval, LevelStatus, level_id
from services.monitoring.domain.framework import Framework, framework_id


def adopt_upper_framework(ctx: Reacting, event: InboundEvent) -> None:
    """A framework version or period from an instance above this one becomes this instance's own, with the same
    number (decision 011). Our own events and those from below pass by."""
    origin = event.origin.split(":", 1)[0]
    if origin not in jurisdiction.ancestors(ctx.app.settings.jurisdiction):
        return
    d = event.data
    code = d["definition"]["code"] if "definition" in d else d["code"]
    now = datetime.fromisoformat(d["timestamp"])  # the upstream event's time: the same on every redelivery
    if not ctx.app.exists(framework_id(code)):
        if event.type != "Framework.Published":
            raise Conflict(
                f"{code} arrived from {origin} without its first version",
                field="framework",
                rule="framework_version_missing",
            )
        ctx.save(Framework.publish_first(d["definition"], d["note"], now))
        return
    framework = ctx.app.get(framework_id(code), Framework)
    if event.type == "Framework.PeriodOpened":
        framework.adopt_period(d["period"], d["version"], now)
    else:
        framework.adopt(d.get("number", 1), d["definition"], d["note"], now)
    ctx.save(framework)


def apply_upper_acceptance(ctx: Reacting, event: InboundEvent) -> None:
    """An instance above accepted (or handed back) a level held here: the level takes it (decision 020). An acceptance
    of a version that has since changed lapses, and the level says so upward. Levels not held here pass by."""
    origin = event.origin.split(":", 1)[0]
    if origin not in jurisdiction.ancestors(ctx.app.settings.jurisdiction):
        return
    d = event.data
    lid = level_id(d["framework"], d["period"], d["jurisdiction"])
    if not ctx.app.exists(lid):
        return
    level = ctx.app.get(lid, LevelApproval)
    now = datetime.fromisoformat(d["timestamp"])
    if event.type == "UpperAcceptance.Unaccepted":
        if level.status != LevelStatus.accepted:
            return
        level.unaccept(reason=d["reason"], by=f"{origin}:{d['unaccepted_by']}", now=now)
    else:
        level.take_upper_acceptance(accepted_version=d["level_version"], by=f"{origin}:{d['accepted_by']}", now=now)
    ctx.save(level)
