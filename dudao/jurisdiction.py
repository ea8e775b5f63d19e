"""Administrative division codes (行政区划, GB/T 2260) and which code contains which."""

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

NATIONAL = "000000"

_DATA_FILE = Path(__file__).with_name("data") / "jurisdictions.csv"


class Level(StrEnum):
    """The tier of government a code belongs to (层级)."""

    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"

    @property
    def label_zh(self) -> str:
        return _LEVEL_LABELS_ZH[self]


_LEVEL_LABELS_ZH = {
    Level.NATIONAL: "国家",
    Level.PROVINCE: "省级",
    Level.CITY: "市级",
    Level.COUNTY: "县级",
    Level.TOWNSHIP: "乡镇",
}


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
            row["code"]: Jurisdiction(
                **{**row, "level": Level(row["level"]), "parent": row["parent"] or None}
            )
            for row in csv.DictReader(f)
        }


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
    return _table().get(code)


def is_known(code: str) -> bool:
    """True for NATIONAL, a code in the reference data, or a township of a known county."""
    if not is_valid_code(code):
        return False
    if code == NATIONAL or code in _table():
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
    """True when `child` lies within `parent`; every code contains itself."""
    _require_valid(child)
    return child.startswith(prefix(parent))


def level_of(code: str) -> Level:
    _require_valid(code)
    row = get(code)
    return Level(row.level) if row else _shape_level(code)


def _parent_of(code: str) -> str:
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
