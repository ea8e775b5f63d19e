"""Administrative division codes (行政区划, GB/T 2260) and which code contains which."""

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from dudao.rules import Labelled

NATIONAL = "000000"

_DATA_FILE = Path(__file__).with_name("data") / "jurisdictions.csv"
_CHANGES_FILE = Path(__file__).with_name("data") / "division_changes.csv"


class Level(Labelled):
    """The tier of government a code belongs to (层级)."""

    NATIONAL = "national", "国家"
    PROVINCE = "province", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"
    TOWNSHIP = "township", "乡镇"


@dataclass(frozen=True)
class Jurisdiction:
    """One row of the reference data; `parent` is None for a province."""

    code: str
    name_zh: str
    name_en: str
    level: str
    parent: str | None


@cache
def _table() -> dict[str, Jurisdiction]:
    with _DATA_FILE.open(encoding="utf-8", newline="") as f:
        return {
            row["code"]: Jurisdiction(**{**row, "level": Level(row["level"]), "parent": row["parent"] or None})
            for row in csv.DictReader(f)
        }


@dataclass(frozen=True)
class Change:
    """A division retired from the list (decision 028): re-coded, merged into another, or gone without a successor.

    `listed_on` is the date of the Ministry's first list without it (the source carries no decision dates)."""

    listed_on: date
    kind: str  # "recode" | "merge" | "retired"
    old_code: str
    old_name: str
    new_code: str | None  # its successor, None for "retired"
    new_name: str | None


@cache
def _changes() -> dict[str, Change]:
    try:
        with _CHANGES_FILE.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return {}
    return {
        r["old_code"]: Change(
            date.fromisoformat(r["listed_on"]),
            r["kind"],
            r["old_code"],
            r["old_name"],
            r["new_code"] or None,
            r["new_name"] or None,
        )
        for r in rows
    }


def retired(code: str) -> Change | None:
    """The change that retired `code`, or None for a code in the current list."""
    return _changes().get(code)


def current(code: str) -> str:
    """The code a retired division's records now roll up under (its successor's successor …); else `code` itself."""
    seen = {code}
    while (change := _changes().get(code)) is not None and change.new_code and change.new_code not in seen:
        code = change.new_code
        seen.add(code)
    return code


def check_current(code: str, today: date) -> None:
    """Refuse a new record under a code retired by `today`, naming what replaced it."""
    change = retired(code)
    if change is not None and change.listed_on <= today:
        successor = current(code)
        instead = f"; record it under {successor} {name_of(successor)}" if successor != code else ""
        done = {"recode": "re-coded", "merge": "merged into another", "retired": "retired"}[change.kind]
        raise ValueError(f"{code} {change.old_name} was {done} in the national list of {change.listed_on}{instead}")


def is_valid_code(code: str) -> bool:
    """True for NATIONAL, a 6-digit division code, or a 9-digit township/street code (乡镇/街道)."""
    if code == NATIONAL:
        return True
    if not (isinstance(code, str) and code.isascii() and code.isdigit()):
        return False
    if len(code) == 6:
        return code[:2] != "00"
    if len(code) == 9:
        # Cities without counties (儋州, 东莞) hold townships directly, so a city code may lead.
        return _shape_level(code[:6]) in (Level.CITY, Level.COUNTY) and code[6:] != "000"
    return False


def _require_valid(code: str) -> None:
    if not is_valid_code(code):
        raise ValueError(f"not an administrative division code: {code!r}")


def _shape_level(code: str) -> Level:
    """The level a code's digits suggest, ignoring the reference data."""
    if code == NATIONAL:
        return Level.NATIONAL
    if len(code) == 9:
        return Level.TOWNSHIP
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.COUNTY


def get(code: str) -> Jurisdiction | None:
    """The listed division, or a retired one as it was (named as it was, under its successor's parent)."""
    row = _table().get(code)
    if row is None and (change := _changes().get(code)) is not None:
        successor = _table().get(current(code))
        return Jurisdiction(
            code, change.old_name, "", Level.COUNTY, successor.parent if successor else code[:2] + "0000"
        )
    return row


def is_known(code: str) -> bool:
    """True for NATIONAL, a code in the reference data, or a township of a known county."""
    if not is_valid_code(code):
        return False
    if code == NATIONAL or code in _table() or code in _changes():
        return True
    return len(code) == 9 and code[:6] in _table()


def name_of(code: str) -> str:
    """The Chinese name; a code with no stored name (a township, an unknown code) names itself."""
    if code == NATIONAL:
        return "全国"
    row = get(code)
    return row.name_zh if row else code


def prefix(code: str) -> str:
    """The significant prefix: a 6-digit code without its trailing "00" pairs."""
    _require_valid(code)
    if code == NATIONAL:
        return ""
    if len(code) == 9:
        return code
    while code.endswith("00"):
        code = code[:-2]
    return code


def contains(parent: str, child: str) -> bool:
    """True when `child` lies within `parent`; every code contains itself. A retired division lies where its
    successor lies (公主岭 220381, re-coded 220184, is in 长春 220100), and within itself."""
    _require_valid(child)
    if child != (now := current(child)) and child != parent:
        return now.startswith(prefix(parent))
    return child.startswith(prefix(parent))


def patterns(within: str) -> list[str]:
    """SQL LIKE patterns for every record within `within` (`jurisdiction LIKE ANY($1::text[])`): its prefix, and the
    codes of retired divisions whose successor lies within it, since records keep the code they were made under.

    A retired division that moved out is cut from the prefix, because LIKE ANY has no "but not": 四平 220300 reads
    "2203%" without 公主岭 220381 (now 长春's) as the patterns 22030%…22037%, 22039%, 220380%, 220382%…220389%."""
    first = prefix(within)
    moved_in = [
        old for old in _changes() if not old.startswith(first) and old != current(old) and contains(within, old)
    ]
    moved_out = [old for old in _changes() if old.startswith(first) and old != first and not contains(within, old)]
    kept = [first]
    for old in moved_out:
        kept = [p for k in kept for p in (_without(k, old) if old.startswith(k) else [] if k.startswith(old) else [k])]
    return [f"{p}%" for p in kept + moved_in]


def _without(start: str, old: str) -> list[str]:
    """Prefixes that together match every code starting with `start` except those starting with `old`."""
    return [old[:i] + d for i in range(len(start), len(old)) for d in "0123456789" if d != old[i]]


def level_of(code: str) -> Level:
    _require_valid(code)
    row = get(code)
    return Level(row.level) if row else _shape_level(code)


def _parent_of(code: str) -> str:
    if (successor := current(code)) != code:
        return successor  # a retired division rolls up under its successor
    row = get(code)
    if row:
        return row.parent or NATIONAL
    if len(code) == 9:
        return code[:6]
    # Unknown 6-digit code: prefer a known city above it, else its province.
    city, province = code[:4] + "00", code[:2] + "0000"
    if city != code and city in _table():
        return city
    return province if province != code else NATIONAL


def ancestors(code: str) -> list[str]:
    """The containing codes, nearest first, ending with NATIONAL."""
    _require_valid(code)
    chain: list[str] = []
    while code != NATIONAL:
        code = _parent_of(code)
        chain.append(code)
    return chain


def children(code: str) -> list[Jurisdiction]:
    """The direct children listed in the reference data."""
    _require_valid(code)
    wanted = None if code == NATIONAL else code
    return [j for j in _table().values() if j.parent == wanted]


def all_jurisdictions() -> list[Jurisdiction]:
    return list(_table().values())
