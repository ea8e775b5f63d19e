"""The double-random draw (双随机): targets and teams drawn from a committed seed, re-runnable by anyone."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.errors import Conflict, InvalidInput, Problem

MIN_SEED_LENGTH = 32
_BLOCK_RANGE = 2**256  # one HMAC-SHA256 block read as an unsigned integer


class DrawRefused(Conflict):
    """The draw cannot go ahead (or has already happened); 409 naming the rule."""

    rule = "draw_refused"


@dataclass(frozen=True)
class PoolMember:
    """An inspector in the already-filtered pool, with declared ties (unit ids) and assignments held this period."""

    inspector_id: str
    ties: frozenset[str] = frozenset()
    load: int = 0


@dataclass(frozen=True)
class DrawInputs:
    """Everything the draw depends on besides the seed; published with the draw so that anyone can re-run it."""

    targets: list[str]
    target_count: int
    pool: list[PoolMember]
    team_size: int
    max_load: int

    def as_record(self) -> dict:
        """Plain JSON, canonical: targets sorted, pool sorted by inspector id, ties sorted."""
        return {
            "targets": sorted(self.targets),
            "target_count": self.target_count,
            "pool": [
                {"inspector_id": m.inspector_id, "ties": sorted(m.ties), "load": m.load}
                for m in sorted(self.pool, key=lambda m: m.inspector_id)
            ],
            "team_size": self.team_size,
            "max_load": self.max_load,
        }

    @classmethod
    def from_record(cls, record: dict) -> DrawInputs:
        return cls(
            targets=list(record["targets"]),
            target_count=record["target_count"],
            pool=[PoolMember(m["inspector_id"], frozenset(m["ties"]), m["load"]) for m in record["pool"]],
            team_size=record["team_size"],
            max_load=record["max_load"],
        )


@dataclass(frozen=True)
class DrawResult:
    """The drawn targets in drawn order, and each target's team in drawn order."""

    targets: list[str]
    teams: dict[str, list[str]]


# --- the algorithm ------------------------------------------------------------------------------------


def seed_hash(seed: str) -> str:
    """The commitment published before the draw: SHA-256 of the seed's UTF-8 bytes, lower-case hex."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


class _Stream:
    """Uniform integers from HMAC-SHA256 blocks of (seed, label); see `run_draw` for the exact rule."""

    def __init__(self, seed: str, label: str):
        self._key, self._label, self._counter = seed.encode("utf-8"), label, 0

    def _block(self) -> int:
        message = f"{self._label}:{self._counter}".encode()
        self._counter += 1
        return int.from_bytes(hmac.new(self._key, message, hashlib.sha256).digest(), "big")

    def below(self, n: int) -> int:
        # Blocks at or above the largest multiple of n are rejected so that every residue is equally likely.
        limit = _BLOCK_RANGE - _BLOCK_RANGE % n
        while True:
            if (x := self._block()) < limit:
                return x % n


def pick(seed: str, label: str, candidates: list[str], k: int, *, field: str = "k") -> list[str]:
    """Draw `k` of `candidates` without replacement, in drawn order (partial Fisher–Yates over the sorted list)."""
    if not 0 <= k <= len(candidates):
        raise InvalidInput(
            f"cannot draw {k} from {len(candidates)} candidates", field=field, rule="not_enough_candidates"
        )
    items, stream = sorted(candidates), _Stream(seed, label)
    for i in range(k):
        j = i + stream.below(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items[:k]


def run_draw(seed: str, inputs: DrawInputs) -> DrawResult:
    """Draw targets, then a team for each target; deterministic in (seed, inputs).

    The algorithm, precisely enough to re-implement it elsewhere:

    1. Stream. For a seed s and a label L, block i (i = 0, 1, 2, …) is
       HMAC-SHA256(key = UTF-8(s), message = UTF-8(L + ":" + decimal(i))), read as a 256-bit big-endian
       unsigned integer x. A uniform integer in [0, n) takes the next block: if x < 2^256 − (2^256 mod n)
       the result is x mod n, otherwise the block is discarded and the next one taken (no modulo bias).
       Each label has its own stream, its counter starting at 0 and running on across integers.
    2. pick(s, L, candidates, k): sort the candidate ids by Unicode code point; for i = 0 … k−1, let
       j = i + uniform(n − i) where n is the number of candidates, and swap positions i and j.
       The first k items, in that order, are the pick.
    3. targets = pick(s, "targets", inputs.targets, target_count). Then for each drawn target t, in drawn
       order: the eligible members are those without a tie to t whose load plus the teams they joined
       earlier in this draw is below max_load; team(t) = pick(s, "team:" + t, eligible ids, team_size).
    """
    check_inputs(inputs)
    targets = pick(seed, "targets", inputs.targets, inputs.target_count, field="target_count")
    assigned = {m.inspector_id: 0 for m in inputs.pool}
    teams: dict[str, list[str]] = {}
    for target in targets:
        eligible = [
            m.inspector_id
            for m in inputs.pool
            if target not in m.ties and m.load + assigned[m.inspector_id] < inputs.max_load
        ]
        if len(eligible) < inputs.team_size:
            raise DrawRefused(
                f"only {len(eligible)} inspectors are eligible for {target} (no tie, under the load limit); "
                f"a team needs {inputs.team_size}",
                field="team_size",
                rule="not_enough_eligible_inspectors",
                target=target,
                eligible=len(eligible),
            )
        teams[target] = pick(seed, f"team:{target}", eligible, inputs.team_size, field="team_size")
        for inspector_id in teams[target]:
            assigned[inspector_id] += 1
    return DrawResult(targets=targets, teams=teams)


def check_inputs(inputs: DrawInputs) -> None:
    """Refuse inputs that no draw could use: counts below 1, duplicate or empty ids, negative loads."""
    for name in ("target_count", "team_size", "max_load"):
        if getattr(inputs, name) < 1:
            raise InvalidInput(f"{name} must be 1 or more", field=name, rule="positive")
    for name, ids in (("targets", inputs.targets), ("pool", [m.inspector_id for m in inputs.pool])):
        if not all(i.strip() for i in ids):
            raise InvalidInput(f"{name} holds an empty id", field=name, rule="non_empty")
        if duplicates := sorted(i for i, n in Counter(ids).items() if n > 1):
            raise InvalidInput(f"{name} repeats {', '.join(duplicates)}", field=name, rule="no_duplicates")
    if any(m.load < 0 for m in inputs.pool):
        raise InvalidInput("a pool member's load must not be negative", field="pool", rule="non_negative")
    sizes = {"target_count": len(inputs.targets), "team_size": len(inputs.pool)}
    for name, available in sizes.items():
        if getattr(inputs, name) > available:
            raise InvalidInput(
                f"{name} is {getattr(inputs, name)} but there are only {available} candidates",
                field=name,
                rule="not_enough_candidates",
            )


# --- the aggregate ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What re-running a recorded draw shows; `ok` only when the seed matches and the result re-runs."""

    seed_matches_hash: bool
    result_matches: bool
    ok: bool
    detail: str
    deviations: list[dict] = field(default_factory=list)


class Draw(Aggregate):
    """A publicly verifiable double-random draw (双随机): commit to a seed, draw, reveal the seed.

    The seed's hash is published when the draw is announced; the seed itself is revealed when the draw is
    performed. Trade-off: the seed travels in the `Announced` event as `sealed_seed`, so the stored event
    holds it before the reveal. The application keeps event state private and the API shows the seed only
    after `Performed`; whoever can read the event store before then could predict the draw. Keeping the seed
    in the aggregate means no second secret store and that `perform` needs nothing but the time.
    """

    @event("Announced")
    def __init__(
        self,
        *,
        jurisdiction: str,
        purpose: str,
        criteria: dict,
        inputs: dict,
        seed_hash: str,
        sealed_seed: str,
        announced_at: datetime,
    ):
        self.jurisdiction = jurisdiction
        self.purpose = purpose
        self.criteria = dict(criteria)
        self.input_record = deepcopy(inputs)  # state must never alias the event that carried it
        self.seed_hash = seed_hash
        self.sealed_seed = sealed_seed
        self.announced_at = announced_at
        self.seed: str | None = None
        self.drawn_targets: list[str] | None = None
        self.teams: dict[str, list[str]] | None = None
        self.performed_at: datetime | None = None
        self.deviations: list[dict] = []  # teams assigned other than drawn, each with the admin's reason

    @classmethod
    def announce(
        cls,
        *,
        draw_id: UUID,
        jurisdiction: str,
        purpose: str,
        criteria: dict,
        inputs: DrawInputs,
        seed: str,
        now: datetime,
    ) -> Draw:
        """Announce a draw: record its inputs and publish the seed's hash (the commitment)."""
        check_inputs(inputs)
        if len(seed) < MIN_SEED_LENGTH:
            raise InvalidInput(
                f"the seed must be at least {MIN_SEED_LENGTH} characters", field="seed", rule="seed_too_short"
            )
        return cls._create(
            cls.Announced,
            id=draw_id,
            jurisdiction=jurisdiction,
            purpose=purpose,
            criteria=dict(criteria),
            inputs=inputs.as_record(),
            seed_hash=seed_hash(seed),
            sealed_seed=seed,
            announced_at=now,
        )

    def perform(self, *, now: datetime) -> None:
        """Run the draw once and reveal the seed; a refused draw records nothing."""
        if self.performed_at is not None:
            raise DrawRefused("this draw has already been performed", field="status", rule="draw_already_performed")
        result = run_draw(self.sealed_seed, self.inputs)
        self._performed(seed=self.sealed_seed, targets=result.targets, teams=result.teams, performed_at=now)

    @event("Performed")
    def _performed(self, seed: str, targets: list[str], teams: dict[str, list[str]], performed_at: datetime) -> None:
        self.seed = seed
        self.drawn_targets = list(targets)
        self.teams = deepcopy(teams)
        self.performed_at = performed_at

    def record_deviation(
        self, *, activity_id: str, target: str, assigned: list[str], reason: str, by: str, at: datetime
    ) -> None:
        """An activity planned from this draw was given another team than the drawn one; the draw shows it publicly."""
        if self.teams is None or target not in self.teams:
            raise DrawRefused(f"{target} was not drawn in this draw", field="target_id", rule="not_drawn")
        self._deviated(
            activity_id=str(activity_id),
            target=target,
            drawn=list(self.teams[target]),
            assigned=list(assigned),
            reason=reason,
            by=by,
            at=at.isoformat(),
        )

    @event("DeviationRecorded")
    def _deviated(
        self, activity_id: str, target: str, drawn: list[str], assigned: list[str], reason: str, by: str, at: str
    ) -> None:
        self.deviations = [
            *self.deviations,
            {
                "activity_id": activity_id,
                "target": target,
                "drawn": list(drawn),
                "assigned": list(assigned),
                "reason": reason,
                "by": by,
                "at": at,
            },
        ]

    @property
    def status(self) -> str:
        return "announced" if self.performed_at is None else "performed"

    @property
    def inputs(self) -> DrawInputs:
        return DrawInputs.from_record(self.input_record)

    @property
    def result(self) -> DrawResult | None:
        if self.drawn_targets is None or self.teams is None:
            return None
        return DrawResult(targets=list(self.drawn_targets), teams={t: list(m) for t, m in self.teams.items()})

    def verify(self) -> Verification:
        """Check the revealed seed against the published hash and re-run the draw from the recorded inputs."""
        recorded = self.result
        if self.seed is None or recorded is None:
            return Verification(seed_matches_hash=False, result_matches=False, ok=False, detail="not performed yet")
        deviations = [dict(d) for d in self.deviations]
        seed_matches = seed_hash(self.seed) == self.seed_hash
        mismatches = _rerun_mismatches(self.seed, self.inputs, recorded)
        problems = ([] if seed_matches else ["the revealed seed does not match the published hash"]) + mismatches
        return Verification(
            seed_matches_hash=seed_matches,
            result_matches=not mismatches,
            ok=seed_matches and not mismatches,
            detail="; ".join(problems)
            or "the seed matches its hash and the draw re-runs to the recorded result"
            + (f"; {len(deviations)} team(s) assigned other than drawn, each with its reason" if deviations else ""),
            deviations=deviations,
        )


def _rerun_mismatches(seed: str, inputs: DrawInputs, recorded: DrawResult) -> list[str]:
    """How re-running the draw disagrees with the record; empty when it agrees."""
    try:
        rerun = run_draw(seed, inputs)
    except Problem as refused:
        return [f"re-running the draw is refused: {refused.detail}"]
    if rerun.targets != recorded.targets:
        return [f"re-running draws targets {rerun.targets}, the record says {recorded.targets}"]
    differ = sorted(
        t for t in rerun.teams.keys() | recorded.teams.keys() if rerun.teams.get(t) != recorded.teams.get(t)
    )
    return [f"re-running draws different teams for {', '.join(differ)}"] if differ else []
