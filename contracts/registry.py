"""The registry's events that other services consume: schools, inspectors (their lifecycle and declared ties),
responsibility zones. Policy profiles are the kernel's (`dudao.profiles` keeps every service's copy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.base import Contract, Published

# --- schools ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SchoolRegistered(Contract):
    event = "School.Registered"
    jurisdiction: str
    name: str
    stage: str
    ownership: str
    enrolment: int
    code: str | None = None
    locality: str | None = None


@dataclass(frozen=True, kw_only=True)
class SchoolDetailsUpdated(Contract):
    event = "School.DetailsUpdated"
    name: str
    enrolment: int
    locality: str | None = None


@dataclass(frozen=True, kw_only=True)
class SchoolEnrolmentRecorded(Contract):
    """Pupils per stage for a school year; `total` since v2 (a message relayed before it lacks it: decision 014)."""

    event = "School.EnrolmentRecorded"
    school_year: str
    by_stage: dict[str, int]
    total: int | None = None

    @property
    def pupils(self) -> int:
        return self.total if self.total is not None else sum(self.by_stage.values())


@dataclass(frozen=True, kw_only=True)
class SchoolZoneAssigned(Contract):
    event = "School.ZoneAssigned"
    zone_id: str


@dataclass(frozen=True, kw_only=True)
class SchoolResponsibleInspectorAssigned(Contract):
    event = "School.ResponsibleInspectorAssigned"
    inspector_id: str


@dataclass(frozen=True, kw_only=True)
class SchoolInternalSupervisorsRecorded(Contract):
    event = "School.InternalSupervisorsRecorded"
    names: list[str]


@dataclass(frozen=True, kw_only=True)
class SchoolPrincipalTermEnded(Contract):
    """A principal's term of office ended: inspection plans the term-end supervision (S3)."""

    event = "School.PrincipalTermEnded"
    jurisdiction: str
    school_name: str
    principal_name: str
    term_start: date
    ended_on: date


# --- inspectors ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InspectorRegistered(Contract):
    event = "Inspector.Registered"
    jurisdiction: str
    name: str
    employment: str
    roles: list[str] | None = None
    focus: str | None = None
    stages: list[str] | None = None
    subjects: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class InspectorDetailsUpdated(Contract):
    event = "Inspector.DetailsUpdated"
    name: str
    employment: str
    roles: list[str] | None = None
    focus: str | None = None
    stages: list[str] | None = None
    subjects: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class InspectorAppointed(Contract):
    event = "Inspector.Appointed"


@dataclass(frozen=True, kw_only=True)
class InspectorFiled(Contract):
    """Filed (备案) with an upper office, which the inspector may then serve."""

    event = "Inspector.Filed"
    filed_with: str


@dataclass(frozen=True, kw_only=True)
class InspectorActivated(Contract):
    event = "Inspector.Activated"


@dataclass(frozen=True, kw_only=True)
class InspectorSuspended(Contract):
    event = "Inspector.Suspended"


@dataclass(frozen=True, kw_only=True)
class InspectorReinstated(Contract):
    event = "Inspector.Reinstated"


@dataclass(frozen=True, kw_only=True)
class InspectorExited(Contract):
    event = "Inspector.Exited"


@dataclass(frozen=True, kw_only=True)
class InspectorTieDeclared(Contract):
    """A declared tie (回避) to a unit the inspector may never inspect."""

    event = "Inspector.TieDeclared"
    unit_id: str
    kind: str


@dataclass(frozen=True, kw_only=True)
class InspectorTieWithdrawn(Contract):
    event = "Inspector.TieWithdrawn"
    unit_id: str


# The status each lifecycle event leaves an inspector in, as the copies keep it.
INSPECTOR_STATUS: dict[type[Contract], str] = {
    InspectorAppointed: "appointed",
    InspectorFiled: "filed",
    InspectorActivated: "active",
    InspectorSuspended: "suspended",
    InspectorReinstated: "active",
    InspectorExited: "exited",
}

# --- responsibility zones -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ZoneCreated(Contract):
    event = "Zone.Created"
    jurisdiction: str
    name: str


@dataclass(frozen=True, kw_only=True)
class ZoneRenamed(Contract):
    event = "Zone.Renamed"
    name: str


PUBLISHED = Published(
    SchoolRegistered,
    SchoolDetailsUpdated,
    SchoolEnrolmentRecorded,
    SchoolZoneAssigned,
    SchoolResponsibleInspectorAssigned,
    SchoolInternalSupervisorsRecorded,
    SchoolPrincipalTermEnded,
    InspectorRegistered,
    InspectorDetailsUpdated,
    *INSPECTOR_STATUS,
    InspectorTieDeclared,
    InspectorTieWithdrawn,
    ZoneCreated,
    ZoneRenamed,
)
