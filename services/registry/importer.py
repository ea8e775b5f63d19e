"""Import an office's school or inspector list (.xlsx or .csv, Chinese headers) through the registry API."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import httpx

from dudao import auth, jurisdiction, rules
from dudao.config import Settings
from dudao.errors import InvalidInput, Unauthorized, Unavailable
from dudao.sheets import Row, read_rows
from services.registry.domain import Employment, Focus, InspectorRole, Locality, Ownership, Stage

SCHOOL_COLUMNS = ("学校代码", "学校名称", "区县代码", "学校类型", "办学性质", "城乡类型", "学生数")
INSPECTOR_COLUMNS = ("督学编号", "姓名", "区县代码", "专兼职")
INSPECTOR_OPTIONAL = ("督学类别", "督导类型", "学段", "学科", "公开联系方式", "手机号码", "身份证号", "家庭住址")
# Private details: checked here, sealed by the registry before they are recorded (decision 019).
PERSONAL_COLUMNS = {"手机号码": ("mobile", rules.mobile), "身份证号": ("id_number", rules.resident_id),
                    "家庭住址": ("home_address", rules.require_name)}  # fmt: skip

MAX_ENROLMENT = 100_000
MAX_TEXT = 200
SEPARATORS = re.compile(r"[、,，;；]")


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell (or, when `column` is None, with the whole row)."""

    row: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.reason}"


Good = tuple[int, str, dict[str, Any]]  # (row number, key in the URL, JSON body)


# --- checking ------------------------------------------------------------------------------------


def _choices(enum: type[StrEnum], **short_forms: str) -> dict[str, StrEnum]:
    """Chinese label, English value, or a common short form → the enum member."""
    table: dict[str, StrEnum] = {m.label_zh: m for m in enum}  # type: ignore[attr-defined]
    table.update({m.value: m for m in enum})
    table.update({text: enum(value) for text, value in short_forms.items()})
    return table


STAGES = _choices(Stage, 初中="junior_secondary", 高中="senior_secondary", 九年制学校="nine_year",
                  十二年制学校="twelve_year", 中职="secondary_vocational")  # fmt: skip
OWNERSHIPS = _choices(Ownership)
LOCALITIES = _choices(Locality, 城市="urban", 县镇="town", 镇="town", 农村="rural")
EMPLOYMENTS = _choices(Employment)
ROLES = _choices(InspectorRole)
FOCUSES = _choices(Focus)


class _Checker:
    """Collects every problem in a file; each method turns one cell into an API value, or None when it is bad."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def at(self, row: Row) -> _Checker:
        self._row, self._cells, self._before = row.number, row.cells, len(self.errors)
        return self

    @property
    def row_ok(self) -> bool:
        return len(self.errors) == self._before

    def fail(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self._row, column, reason))

    def text(self, column: str, *, required: bool = True, pattern: str | None = None, rule: str = "") -> str | None:
        value = self._cells.get(column, "")
        if not value:
            if required:
                self.fail(column, "is empty")
            return None if required else ""
        if len(value) > MAX_TEXT:
            self.fail(column, f"is {len(value)} characters long; at most {MAX_TEXT}")
        elif pattern and not re.fullmatch(pattern, value):
            self.fail(column, f"{value!r} {rule}")
        else:
            return value
        return None

    def jurisdiction(self, column: str = "区县代码") -> str | None:
        code = self.text(column, pattern=r"\d{6}(\d{3})?", rule="is not a 6- or 9-digit division code")
        if code and not jurisdiction.is_known(code):
            self.fail(column, f"{code} is not a known division code (GB/T 2260); check it against the official list")
            return None
        return code

    def count(self, column: str) -> int | None:
        value = self.text(column, pattern=r"\d+", rule="is not a whole number")
        if value and int(value) > MAX_ENROLMENT:
            self.fail(column, f"{value} is more than {MAX_ENROLMENT}")
            return None
        return int(value) if value else None

    def one_of(self, column: str, table: dict[str, StrEnum], *, default: StrEnum | None = None) -> str | None:
        value = self._cells.get(column, "")
        if value:
            return self._member(column, value, table)
        if default is None:
            self.fail(column, "is empty")
        return default.value if default else None

    def many_of(self, column: str, table: dict[str, StrEnum]) -> list[str]:
        found = [self._member(column, item, table) for item in _split(self._cells.get(column, ""))]
        return list(dict.fromkeys(m for m in found if m))

    def _member(self, column: str, value: str, table: dict[str, StrEnum]) -> str | None:
        member = table.get(value) or table.get(value.lower())
        if member is None:
            labels = "、".join(dict.fromkeys(m.label_zh for m in table.values()))  # type: ignore[attr-defined]
            self.fail(column, f"unknown value {value!r}; use one of {labels}")
            return None
        return member.value

    def names(self, column: str, *, at_most: int = 50) -> list[str]:
        found = _split(self._cells.get(column, ""))
        if len(found) > at_most:
            self.fail(column, f"lists {len(found)} entries; at most {at_most}")
        if long := [n for n in found if len(n) > MAX_TEXT]:
            self.fail(column, f"{long[0][:20]!r}… is longer than {MAX_TEXT} characters")
        return found

    def personal(self, columns: dict[str, tuple[str, Callable[[str, str], str]]]) -> dict[str, str]:
        """The private details a row has, each checked (the message never repeats the value)."""
        found = {}
        for column, (name, check) in columns.items():
            if value := self.text(column, required=False):
                try:
                    found[name] = check(value, name)
                except InvalidInput as e:
                    self.fail(column, e.detail)
        return found

    def unique(self, column: str, key: Any, seen: dict[Any, int], what: str) -> None:
        if key in seen:
            self.fail(column, f"{what} already appears in row {seen[key]}")
        else:
            seen[key] = self._row


def _split(value: str) -> list[str]:
    return [part.strip() for part in SEPARATORS.split(value) if part.strip()]


def _require_columns(rows: list[Row], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    present = rows[0].cells.keys() if rows else required
    if missing := [c for c in required if c not in present]:
        expected = "、".join(required + tuple(f"{c}(可选)" for c in optional))
        raise InvalidInput(f"the header row has no column {'、'.join(missing)}; expected headers: {expected}",
                           field="header", rule="column_missing")  # fmt: skip


def validate_schools(rows: list[Row]) -> tuple[list[Good], list[RowError]]:
    """Every school row checked; the good ones as (row, 学校代码, body for PUT /v1/schools/by-code/{code})."""
    _require_columns(rows, SCHOOL_COLUMNS)
    check, good, seen = _Checker(), [], {}
    for row in rows:
        check.at(row)
        code = check.text("学校代码", pattern=r"[0-9A-Za-z]{4,20}", rule="must be 4–20 letters or digits")
        if code:
            check.unique("学校代码", code, seen, code)
        body = {
            "name": check.text("学校名称"),
            "jurisdiction": check.jurisdiction(),
            "stage": check.one_of("学校类型", STAGES),
            "ownership": check.one_of("办学性质", OWNERSHIPS),
            "locality": check.one_of("城乡类型", LOCALITIES),
            "enrolment": check.count("学生数"),
        }
        if check.row_ok:
            good.append((row.number, code, body))
    return good, check.errors


def validate_inspectors(rows: list[Row]) -> tuple[list[Good], list[RowError]]:
    """Every inspector row checked; the good ones as (row, 督学编号, body for PUT /v1/inspectors/by-number/{n})."""
    _require_columns(rows, INSPECTOR_COLUMNS, INSPECTOR_OPTIONAL)
    check, good, seen = _Checker(), [], {}
    for row in rows:
        check.at(row)
        number = check.text("督学编号", pattern=r"[0-9A-Za-z_-]{1,40}", rule="must be 1–40 letters, digits, _ or -")
        body = {
            "name": check.text("姓名"),
            "jurisdiction": check.jurisdiction(),
            "employment": check.one_of("专兼职", EMPLOYMENTS),
            "roles": check.many_of("督学类别", ROLES),
            "focus": check.one_of("督导类型", FOCUSES, default=Focus.schools),
            "stages": check.many_of("学段", STAGES),
            "subjects": check.names("学科"),
            "public_contact": check.text("公开联系方式", required=False) or None,
        }
        if personal := check.personal(PERSONAL_COLUMNS):
            body["personal"] = personal
        if InspectorRole.listed in body["roles"] and not row.cells.get("公开联系方式"):
            check.fail("公开联系方式", "a 挂牌督学 must have a public contact; the school's sign shows it")
        if number and body["jurisdiction"]:
            # Numbers are the office's own, so two counties in one file may both have a 001.
            check.unique("督学编号", (body["jurisdiction"], number), seen, f"{number} (same 区县代码)")
        if check.row_ok:
            good.append((row.number, number, body))
    return good, check.errors


# --- sending -------------------------------------------------------------------------------------

KINDS = {
    "schools": (validate_schools, "/v1/schools/by-code/"),
    "inspectors": (validate_inspectors, "/v1/inspectors/by-number/"),
}


@dataclass
class Outcome:
    new: int = 0
    existing: int = 0
    failed: list[RowError] = field(default_factory=list)


def send(kind: str, good: list[Good], *, base_url: str, token: str,
         progress: Callable[[int, int], None] = lambda done, total: None) -> Outcome:  # fmt: skip
    """PUT each row by its key: 201 is new, 200 was already there; a refused row is recorded and the rest go on."""
    path, outcome = KINDS[kind][1], Outcome()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for done, (number, key, body) in enumerate(good, 1):
            try:
                response = client.put(path + key, json=body)
            except httpx.TransportError as e:
                raise Unavailable(f"cannot reach the registry at {base_url} ({e}); is `make run` running? "
                                  "set DUDAO_REGISTRY_URL if it runs elsewhere") from None  # fmt: skip
            if response.status_code == 401:
                raise Unauthorized(f"the registry refused the token: {_detail(response)}; "
                                   "pass --token or set DUDAO_TOKEN")  # fmt: skip
            if response.status_code == 201:
                outcome.new += 1
            elif response.status_code == 200:
                outcome.existing += 1
            else:
                outcome.failed.append(RowError(number, None, _detail(response)))
            progress(done, len(good))
    return outcome


def _detail(response: httpx.Response) -> str:
    try:
        return response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code} {response.text[:200]}"


def common_jurisdiction(codes: Iterable[str], fallback: str) -> str:
    """The smallest jurisdiction containing every code, for a token that may write all the rows."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        return fallback
    candidates = [codes[0], *jurisdiction.ancestors(codes[0])]  # nearest first, ending with the whole country
    return next(c for c in candidates if all(jurisdiction.contains(c, j) for j in codes))


# --- the command ---------------------------------------------------------------------------------


def run(kind: str, path: str | Path, *, dry_run: bool = False, token: str | None = None,
        settings: Settings | None = None, out: TextIO | None = None) -> int:  # fmt: skip
    """`dudao import KIND FILE`: check every row, then import all or nothing; the exit code."""
    settings, out = settings or Settings.from_env(), out or sys.stdout
    rows = read_rows(path)
    good, errors = KINDS[kind][0](rows)
    for error in errors:
        print(error, file=out)
    bad = len({e.row for e in errors})
    if not rows:
        print(f"{kind}: {Path(path).name} has no data rows; nothing to import", file=out)
        return 0
    if dry_run or errors:
        verdict = f"{len(good)} good, {bad} bad ({len(errors)} problems)" if errors else "all good"
        print(f"{kind}: {len(rows)} rows checked, {verdict}", file=out)
        if dry_run:
            then = "fix the rows above and check again" if errors else "run again without --dry-run to import"
            print(f"nothing imported (dry run); {then}", file=out)
        else:
            print("nothing imported: fix the rows above and run again (--dry-run only checks)", file=out)
        return 1 if errors else 0

    if token is None:
        jur = common_jurisdiction((body["jurisdiction"] for _, _, body in good), settings.jurisdiction)
        token = auth.issue_dev_token(settings, sub="importer", roles=["admin"], jur=jur)

    def progress(done: int, total: int) -> None:
        print(f"\r  {kind}: {done}/{total}", end="", file=out, flush=True)

    outcome = send(kind, good, base_url=settings.service_url("registry"), token=token, progress=progress)
    print(file=out)
    for error in outcome.failed:
        print(error, file=out)
    imported = outcome.new + outcome.existing
    failed = f"; {len(outcome.failed)} failed (see above)" if outcome.failed else ""
    print(f"imported {imported}: {outcome.new} new, {outcome.existing} existing{failed}", file=out)
    return 1 if outcome.failed else 0
