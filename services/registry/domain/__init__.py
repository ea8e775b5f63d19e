"""Registry domain: schools, inspectors, zones, committees, policy profiles and API clients. Plain Python, no I/O."""

from dudao.rules import RuleViolation
from dudao.stages import Stage
from services.registry.domain.api_client import ApiClient, ClientStatus
from services.registry.domain.committee import Committee, committee_id, composition
from services.registry.domain.inspector import (
    Employment,
    ExitReason,
    Focus,
    Grade,
    Inspector,
    InspectorRole,
    Status,
    TieKind,
    TrainingKind,
)
from services.registry.domain.policy import Effective, PolicyProfile, effective, profile_id
from services.registry.domain.school import EnrolmentStatus, LicenceStatus, Locality, Ownership, School
from services.registry.domain.zone import Zone

__all__ = [
    "ApiClient",
    "ClientStatus",
    "Committee",
    "Effective",
    "Employment",
    "EnrolmentStatus",
    "ExitReason",
    "Focus",
    "Grade",
    "Inspector",
    "InspectorRole",
    "LicenceStatus",
    "Locality",
    "Ownership",
    "PolicyProfile",
    "RuleViolation",
    "School",
    "Stage",
    "Status",
    "TieKind",
    "TrainingKind",
    "Zone",
    "committee_id",
    "composition",
    "effective",
    "profile_id",
]
