"""Who opened which evidence file of an activity, and when: a unit's submitted files are read under record (issue 19).

A download is a read, but of a school's own documents, which may hold personal data; the office must be able to say
who saw them. Each opening is an event of this small aggregate (one per activity), so it is in the service's audit
and hash chain without touching the activity itself (whose version, and ETag, a read must not change).
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


def evidence_log_id(activity_id: UUID | str) -> UUID:
    return uuid5(NAMESPACE_URL, f"dudao:evidence-log:{activity_id}")


class EvidenceLog(Aggregate):
    """The openings of one activity's evidence files."""

    @event("Started")
    def __init__(self, *, activity_id: str, jurisdiction: str):
        self.activity_id, self.jurisdiction = activity_id, jurisdiction
        self.openings = 0

    @classmethod
    def start(cls, *, activity_id: UUID, jurisdiction: str) -> EvidenceLog:
        return cls._create(
            cls.Started, id=evidence_log_id(activity_id), activity_id=str(activity_id), jurisdiction=jurisdiction
        )

    def opened(self, *, sha256: str, name: str, by: str, at: datetime) -> None:
        self._opened(sha256=sha256, name=name, by=by, at=at)

    @event("Opened")
    def _opened(self, sha256: str, name: str, by: str, at: datetime) -> None:
        self.openings += 1
