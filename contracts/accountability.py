"""Accountability's events that other services consume: each rectification item's course and each interview's and
circular's (monitoring's operations figures), and the sanctions decided on a private school (the registry applies
them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.base import Contract, Published

# --- rectification cases ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseOpened(Contract):
    event = "RectificationCase.Opened"
    jurisdiction: str


@dataclass(frozen=True, kw_only=True)
class FeedbackGiven(Contract):
    """Feedback given: every item is under rectification from now, with its deadline."""

    event = "RectificationCase.FeedbackGiven"
    deadlines: dict[str, date]


@dataclass(frozen=True, kw_only=True)
class DeadlineChanged(Contract):
    event = "RectificationCase.DeadlineChanged"
    item_id: str
    deadline: date


@dataclass(frozen=True, kw_only=True)
class ItemReported(Contract):
    event = "RectificationCase.ItemReported"
    item_id: str


@dataclass(frozen=True, kw_only=True)
class ItemRejected(Contract):
    event = "RectificationCase.ItemRejected"
    item_id: str


@dataclass(frozen=True, kw_only=True)
class ItemAccepted(Contract):
    event = "RectificationCase.ItemAccepted"
    item_id: str


@dataclass(frozen=True, kw_only=True)
class NoticeIssued(Contract):
    """A supervision notice (督办单) for an item's lapse, with its new deadline."""

    event = "RectificationCase.NoticeIssued"
    item_id: str
    lapse: int
    new_deadline: date


@dataclass(frozen=True, kw_only=True)
class ItemRechecked(Contract):
    """A re-check (回头看); a failed one reopens the item as a rebound with a new deadline."""

    event = "RectificationCase.ItemRechecked"
    item_id: str
    passed: bool
    new_deadline: date | None = None


# --- interviews and circulars -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InterviewProposed(Contract):
    event = "Interview.Proposed"
    unit: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class InterviewRecorded(Contract):
    event = "Interview.Recorded"


@dataclass(frozen=True, kw_only=True)
class InterviewFiled(Contract):
    event = "Interview.Filed"


@dataclass(frozen=True, kw_only=True)
class CircularProposed(Contract):
    event = "Circular.Proposed"
    unit: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class CircularIssued(Contract):
    event = "Circular.Issued"


@dataclass(frozen=True, kw_only=True)
class CircularPublished(Contract):
    event = "Circular.Published"


# --- sanctions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SanctionImposed(Contract):
    """A sanction (问责处理) decided on a private school: the registry applies it to the school once."""

    event = "AccountabilityDecision.SanctionImposed"
    school_id: str
    sanction: str
    sanction_ref: str


PUBLISHED = Published(
    CaseOpened,
    FeedbackGiven,
    DeadlineChanged,
    ItemReported,
    ItemRejected,
    ItemAccepted,
    NoticeIssued,
    ItemRechecked,
    InterviewProposed,
    InterviewRecorded,
    InterviewFiled,
    CircularProposed,
    CircularIssued,
    CircularPublished,
    SanctionImposed,
)
