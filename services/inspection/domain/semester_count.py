"""How many supervision activities a school has in a semester: the one count frequency control trusts (002 §7).

The read model lags its events, so plannings that arrive together would all read the same count and all pass.
Instead each school and semester has this small aggregate, saved in the same transaction as the activity it
counts: two plannings that read the same count conflict on its version, and the one that loses is checked again
against the new count (`Inspection.plan_activity`). Decision 024.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao.errors import Conflict


def semester_count_id(school_id: str, period: str) -> UUID:
    """One count per school and semester, whoever opens it first."""
    return uuid5(NAMESPACE_URL, f"dudao:school-semester:{school_id}:{period}")


class SemesterCount(Aggregate):
    """The supervision activities planned for one school in one semester."""

    @event("Opened")
    def __init__(self, *, school_id: str, period: str, earlier: int):
        self.school_id, self.period = school_id, period
        self.earlier = earlier  # planned before this count existed, as the read model counted them then
        self.activity_ids: list[str] = []

    @classmethod
    def open(cls, *, school_id: str, period: str, earlier: int) -> SemesterCount:
        return cls._create(
            cls.Opened,
            id=semester_count_id(school_id, period),
            school_id=school_id,
            period=period,
            earlier=max(0, earlier),
        )

    @property
    def count(self) -> int:
        return self.earlier + len(self.activity_ids)

    def admit(
        self, *, activity_id: UUID, school_name: str, limit: int | None, override: str | None, profile_version: str = ""
    ) -> None:
        """Count one more activity; past the limit only with an admin's recorded reason (`override`)."""
        if limit is not None and self.count >= limit and not (override or "").strip():
            raise Conflict(
                f"{school_name} already has {self.count} supervision activities in {self.period}; the limit is {limit}"
                f" (profile {profile_version}). Merge this into an existing activity, or give frequency_override with a reason",
                field="target_id",
                rule="visit_frequency_limit",
                limit=limit,
                profile_version=profile_version,
            )
        self._counted(activity_id=str(activity_id))

    @event("Counted")
    def _counted(self, activity_id: str) -> None:
        self.activity_ids.append(activity_id)
