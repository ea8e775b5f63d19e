"""Who may act on what, decided in one place: the caller against the target as this service's own data knows it.

A route declares its `Rule` (which roles may call it, and what it is about); the command or read then finds its
`Target` in our own data, never in the request body alone, and `authorize` decides. Each role is scoped its own way
(ARCHITECTURE.md, "Identity and scope"):

- admin, committee, ops, national: the target's jurisdiction lies inside the caller's subtree (national only reads);
- unit: the target concerns the caller's own unit;
- inspector: the caller is on the activity's team, or answers for the school (its zone's responsible inspector);
- agency: the caller holds an active assignment for the target's place and task.

A refusal is a 403 whose `rule` is one of REFUSALS and which shows both the caller's scope and the target's.
"""

from __future__ import annotations

from dataclasses import dataclass

from dudao import jurisdiction as divisions
from dudao.callers import Principal, Role
from dudao.errors import Forbidden, InvalidInput

OUT_OF_SCOPE = "out_of_scope"
OWN_UNIT_ONLY = "own_unit_only"
NOT_ON_TEAM = "not_on_team"
INSTANCE_BOUNDARY = "instance_boundary"
ASSIGNMENT_SCOPE = "assignment_scope"
REFUSALS = (OUT_OF_SCOPE, OWN_UNIT_ONLY, NOT_ON_TEAM, INSTANCE_BOUNDARY, ASSIGNMENT_SCOPE)

# How each role is scoped, in the words of the generated matrix (docs/scope-matrix.md).
SCOPE_OF_ROLE = {
    Role.admin: "subtree",
    Role.committee: "subtree",
    Role.ops: "subtree",
    Role.national: "subtree (read)",
    Role.unit: "own unit",
    Role.inspector: "team or zone",
    Role.agency: "assignment",
}


@dataclass(frozen=True)
class Target:
    """What a command or read is about, as this service's data knows it."""

    jurisdiction: str
    unit: str | None = None  # the supervised unit it concerns: a school's id, or a government's division code
    team: frozenset[str] = frozenset()  # inspectors on the activity's team, or the school's responsible inspector
    agencies: frozenset[str] = frozenset()  # agencies whose active assignment covers it for the task at hand

    def describe(self) -> dict[str, object]:
        return {"jurisdiction": self.jurisdiction} | ({"unit": self.unit} if self.unit else {})


def caller_scope(principal: Principal) -> dict[str, object]:
    """The caller as a refusal shows it: roles, jurisdiction, and the unit or agency spoken for."""
    return {"roles": sorted(principal.roles), "jurisdiction": principal.jur} | (
        {"unit": principal.unit} if principal.unit else {}
    )


def refusal(rule: str, detail: str, principal: Principal, target: Target, field: str = "id") -> Forbidden:
    return Forbidden(detail, field=field, rule=rule, caller=caller_scope(principal), target=target.describe())


def within_instance(principal: Principal, target: Target, field: str = "jurisdiction") -> None:
    """A write about a place outside this instance's subtree is refused, whoever asks (the instance boundary).

    Reads are not bounded: an upper instance reads what its lower ones send up, a lower one the plans sent down."""
    instance = principal.instance
    if principal.writing and instance and not divisions.contains(instance, target.jurisdiction):
        raise refusal(
            INSTANCE_BOUNDARY,
            f"this instance serves {instance} ({divisions.name_of(instance)}) and what lies below it; {target.jurisdiction}"
            " is changed by its own instance",
            principal,
            target,
            field,
        )


def check_scope(principal: Principal, code: str, *, field: str = "jurisdiction") -> None:
    """The place asked about must lie inside the caller's subtree (and, for a write, inside this instance's)."""
    if not divisions.is_valid_code(code):
        raise InvalidInput(
            f"{code!r} is not a division code (6 or 9 digits, as 500120)", field=field, rule="code_format"
        )
    target = Target(code)
    within_instance(principal, target, field)
    if not principal.can_act_in(code):
        raise refusal(
            OUT_OF_SCOPE, f"jurisdiction {code} is outside your jurisdiction {principal.jur}", principal, target, field
        )


def _admits(role: str, principal: Principal, target: Target, write: bool) -> str | None:
    """None when `role` lets the caller at the target, else the refusal's rule."""
    if not principal.can_act_in(target.jurisdiction):
        return OUT_OF_SCOPE
    if role in (Role.admin, Role.committee, Role.ops):
        return None
    if role == Role.national:
        return None if not write else OUT_OF_SCOPE
    if role == Role.unit:
        return None if principal.unit is not None and principal.unit == target.unit else OWN_UNIT_ONLY
    if role == Role.inspector:
        return None if principal.sub in target.team else NOT_ON_TEAM
    if role == Role.agency:
        return None if principal.unit is not None and principal.unit in target.agencies else ASSIGNMENT_SCOPE
    return OUT_OF_SCOPE


DETAILS = {
    OUT_OF_SCOPE: "{target} lies outside your jurisdiction {jur}",
    OWN_UNIT_ONLY: "a supervised unit acts on and reads its own records only; {target} concerns another unit",
    NOT_ON_TEAM: "an inspector acts on the activities whose team includes them and on the schools they answer for",
    ASSIGNMENT_SCOPE: "an agency acts only within an active assignment for this place, framework, period and task",
}


def authorize(principal: Principal, target: Target, roles: tuple[str, ...], *, write: bool, field: str = "id") -> str:
    """Admit the caller to `target` through one of `roles` (those the route allows), or refuse naming why.

    Returns the role that admitted the caller. With several roles held, any one that admits is enough; the refusal
    names the first role's reason (the caller's strongest claim)."""
    within_instance(principal, target, field)
    held = [r for r in roles if r in principal.roles] if roles else sorted(principal.roles)
    reasons = []
    for role in held:
        reason = _admits(role, principal, target, write)
        if reason is None:
            return role
        reasons.append(reason)
    rule = reasons[0] if reasons else OUT_OF_SCOPE
    where = target.jurisdiction + (f" ({target.unit})" if target.unit else "")
    raise refusal(rule, DETAILS[rule].format(target=where, jur=principal.jur), principal, target, field)


# Who reads, declared once for REST routes (dudao.routes) and GraphQL fields (dudao.subgraph.caller) alike: an office
# its subtree; a unit its own records; an inspector what its teams and schools cover. An agency reads only what its
# monitoring task needs, and monitoring's routes name it where it does.
OFFICES = (Role.admin, Role.committee, Role.ops, Role.national)
OFFICE_ROLES = frozenset(OFFICES)
UNIT_READERS = (*OFFICES, Role.unit)
READERS = (*OFFICES, Role.unit, Role.inspector)


def unit_only(principal: Principal) -> str | None:
    """The unit a list is narrowed to: the caller's own for a `unit` caller holding no office role, else None."""
    if Role.unit in principal.roles and not principal.roles & OFFICE_ROLES:
        return principal.unit or "-"  # a unit token that names no unit sees nothing
    return None


def inspector_only(principal: Principal) -> str | None:
    """The inspector a list is narrowed to: the caller's own id for an `inspector` caller holding no office role."""
    if Role.inspector in principal.roles and not principal.roles & OFFICE_ROLES:
        return principal.sub
    return None


def listed_unit(principal: Principal, asked: str | None, field: str = "unit_id") -> str | None:
    """The unit a list is filtered to: a unit caller's own (asking for another unit is refused), else what was asked."""
    return _listed(principal, unit_only(principal), asked, OWN_UNIT_ONLY, Target(principal.jur, unit=asked), field)


def listed_inspector(principal: Principal, asked: str | None, field: str = "inspector_id") -> str | None:
    """The team member a list is filtered to: an inspector caller's own (asking for another is refused), else `asked`."""
    return _listed(principal, inspector_only(principal), asked, NOT_ON_TEAM, Target(principal.jur), field)


def _listed(
    principal: Principal, own: str | None, asked: str | None, rule: str, target: Target, field: str
) -> str | None:
    if own is None:
        return asked
    if asked is not None and asked != own:
        raise refusal(rule, DETAILS[rule].format(target=asked, jur=principal.jur), principal, target, field)
    return own


def sees(principal: Principal, jurisdiction: str, unit: str | None, team: frozenset[str] | None = None) -> bool:
    """Whether a row about `unit` in `jurisdiction` is shown to the caller: inside its subtree; for a unit caller only
    its own; for an inspector caller only where it is on the `team` (an activity's, or those answering for a school).
    Lists and batched reads filter with this; a by-id read refuses with `authorize`."""
    own, inspector = unit_only(principal), inspector_only(principal)
    return (
        principal.can_act_in(jurisdiction)
        and (own is None or unit == own)
        and (inspector is None or inspector in (team or ()))
    )
