"""Import an office's school or inspector list (.xlsx or .csv, Chinese headers): checked and recorded in the registry
(`POST /v1/imports/{schools|inspectors}`), all rows or none; `dudao import` sends the file there."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from dudao import jurisdiction, rules
from dudao.errors import InvalidInput, Problem
from dudao.sheets import Row
from services.registry.commands import ImportInspector, ImportSchool
from services.registry.domain import Employment, Focus, InspectorRole, Locality, Ownership, Stage

SCHOOL_COLUMNS = ("学校代码", "学校名称", "区县代码", "学校类型", "办学性质", "城乡类型", "学生数")
INSPECTOR_COLUMNS = ("督学编号", "姓名", "区县代码", "专兼职")
INSPECTOR_OPTIONAL = ("督学类别", "督导类型", "学段", "学科", "公开联系方式", "手机号码", "身份证号", "家庭住址")
# Private details: checked here, sealed by the registry before they are recorded (decision 019).
PERSONAL_COLUMNS = {
    "手机号码": ("mobile", rules.mobile),
    "身份证号": ("id_number", rules.resident_id),
    "家庭住址": ("home_address", rules.require_name),
}

MAX_ENROLMENT = 100_000
MAX_TEXT = 200
SEPARATORS = re.compile(r"[、,，;；]")


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell (or, when `column` is None, with the whole row): in Chinese, and in English."""

    row: int
    column: str | None
    reason_zh: str
    reason: str

    @property
    def chinese(self) -> str:
        return (
            f"第{self.row}行「{self.column}」：{self.reason_zh}" if self.column else f"第{self.row}行：{self.reason_zh}"
        )

    @property
    def english(self) -> str:
        return (
            f"row {self.row}, column {self.column}: {self.reason}" if self.column else f"row {self.row}: {self.reason}"
        )

    def __str__(self) -> str:
        return f"{self.chinese} — {self.english}"


Good = tuple[int, str, dict[str, Any]]  # (row number, key in the URL, JSON body)


# --- checking ------------------------------------------------------------------------------------


def _choices(enum: type[StrEnum], **short_forms: str) -> dict[str, StrEnum]:
    """Chinese label, English value, or a common short form → the enum member."""
    table: dict[str, StrEnum] = {m.label_zh: m for m in enum}  # type: ignore[attr-defined]
    table.update({m.value: m for m in enum})
    table.update({text: enum(value) for text, value in short_forms.items()})
    return table


# The spellings offices use beside the labels (学校类型 as school lists write it).
STAGES = _choices(
    Stage,
    初中="junior_secondary",
    高中="senior_secondary",
    九年一贯制="nine_year",
    九年制="nine_year",
    九年制学校="nine_year",
    九年一贯制学校="nine_year",
    十二年一贯制="twelve_year",
    十二年制="twelve_year",
    十二年制学校="twelve_year",
    完中="complete_secondary",
    完全中学="complete_secondary",
    中职="secondary_vocational",
    中专="secondary_vocational",
    职业高中="secondary_vocational",
    职高="secondary_vocational",
    特殊教育="special_education",
    特教学校="special_education",
    特校="special_education",
    幼儿园="kindergarten",
    小学="primary",
    初级中学="junior_secondary",
    高级中学="senior_secondary",
)
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

    def fail(self, column: str | None, zh: str, en: str) -> None:
        self.errors.append(RowError(self._row, column, zh, en))

    def text(
        self, column: str, *, required: bool = True, pattern: str | None = None, rule: tuple[str, str] = ("", "")
    ) -> str | None:
        value = self._cells.get(column, "")
        if not value:
            if required:
                self.fail(column, "不能为空", "is empty")
            return None if required else ""
        if len(value) > MAX_TEXT:
            self.fail(
                column, f"有{len(value)}个字，最多{MAX_TEXT}个", f"is {len(value)} characters long; at most {MAX_TEXT}"
            )
        elif pattern and not re.fullmatch(pattern, value):
            self.fail(column, f"“{value}”{rule[0]}", f"{value!r} {rule[1]}")
        else:
            return value
        return None

    def jurisdiction(self, column: str = "区县代码") -> str | None:
        code = self.text(
            column, pattern=r"\d{6}(\d{3})?", rule=("不是6位或9位行政区划代码", "is not a 6- or 9-digit division code")
        )
        if code and not jurisdiction.is_known(code):
            self.fail(
                column,
                f"{code}不是已知的行政区划代码（GB/T 2260），请对照官方代码表核对",
                f"{code} is not a known division code (GB/T 2260); check it against the official list",
            )
            return None
        if code and (change := jurisdiction.retired(code)) is not None:
            successor = jurisdiction.current(code)
            instead = (
                f"，请改用{successor}（{jurisdiction.name_of(successor)}）",
                f"; use {successor} {jurisdiction.name_of(successor)}",
            )
            self.fail(
                column,
                f"{code}（{change.old_name}）已于{change.listed_on}的全国行政区划代码表中撤销{instead[0] if successor != code else ''}",
                f"{code} {change.old_name} left the national list of {change.listed_on}{instead[1] if successor != code else ''}",
            )
            return None
        return code

    def count(self, column: str) -> int | None:
        value = self.text(column, pattern=r"\d+", rule=("不是整数", "is not a whole number"))
        if value and int(value) > MAX_ENROLMENT:
            self.fail(column, f"{value}超过{MAX_ENROLMENT}", f"{value} is more than {MAX_ENROLMENT}")
            return None
        return int(value) if value else None

    def one_of(self, column: str, table: dict[str, StrEnum], *, default: StrEnum | None = None) -> str | None:
        value = self._cells.get(column, "")
        if value:
            return self._member(column, value, table)
        if default is None:
            self.fail(column, "不能为空", "is empty")
        return default.value if default else None

    def many_of(self, column: str, table: dict[str, StrEnum]) -> list[str]:
        found = [self._member(column, item, table) for item in _split(self._cells.get(column, ""))]
        return list(dict.fromkeys(m for m in found if m))

    def _member(self, column: str, value: str, table: dict[str, StrEnum]) -> str | None:
        member = table.get(value) or table.get(value.lower())
        if member is None:
            labels = "、".join(dict.fromkeys(m.label_zh for m in table.values()))  # type: ignore[attr-defined]
            self.fail(column, f"无法识别“{value}”，请填写：{labels}", f"unknown value {value!r}; use one of {labels}")
            return None
        return member.value

    def names(self, column: str, *, at_most: int = 50) -> list[str]:
        found = _split(self._cells.get(column, ""))
        if len(found) > at_most:
            self.fail(column, f"填了{len(found)}项，最多{at_most}项", f"lists {len(found)} entries; at most {at_most}")
        if long := [n for n in found if len(n) > MAX_TEXT]:
            self.fail(
                column,
                f"“{long[0][:20]}…”超过{MAX_TEXT}个字",
                f"{long[0][:20]!r}… is longer than {MAX_TEXT} characters",
            )
        return found

    def personal(self, columns: dict[str, tuple[str, Callable[[str, str], str]]]) -> dict[str, str]:
        """The private details a row has, each checked (the message never repeats the value)."""
        found = {}
        for column, (name, check) in columns.items():
            if value := self.text(column, required=False):
                try:
                    found[name] = check(value, name)
                except InvalidInput as e:
                    self.fail(column, "格式不对（原值不显示）", e.detail)
        return found

    def unique(self, column: str, key: Any, seen: dict[Any, int], what: str, same: tuple[str, str] = ("", "")) -> None:
        if key in seen:
            self.fail(
                column, f"{what}{same[0]}与第{seen[key]}行重复", f"{what}{same[1]} already appears in row {seen[key]}"
            )
        else:
            seen[key] = self._row


def _split(value: str) -> list[str]:
    return [part.strip() for part in SEPARATORS.split(value) if part.strip()]


# Headers offices' lists often carry instead of the template's (教育事业统计 and 学籍 exports): the same column.
SCHOOL_HEADER_ALIASES = {
    "学校标识码": "学校代码",
    "学校编码": "学校代码",
    "行政区划代码": "区县代码",
    "区划代码": "区县代码",
    "所在区县代码": "区县代码",
    "办学类型": "学校类型",
    "学段": "学校类型",
    "学校性质": "办学性质",
    "城乡分类": "城乡类型",
    "在校生数": "学生数",
    "在校学生数": "学生数",
}
INSPECTOR_HEADER_ALIASES = {
    "督学证编号": "督学编号",
    "行政区划代码": "区县代码",
    "区划代码": "区县代码",
    "专职兼职": "专兼职",
}


def _as_template(rows: list[Row], aliases: dict[str, str]) -> list[Row]:
    """The rows under the template's headers, where a list used a usual other name (a header the template has wins)."""
    return [
        Row(
            row.number,
            {aliases[k] if k in aliases and aliases[k] not in row.cells else k: v for k, v in row.cells.items()},
        )
        for row in rows
    ]


def _require_columns(rows: list[Row], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    present = rows[0].cells.keys() if rows else required
    if missing := [c for c in required if c not in present]:
        expected = "、".join(required + tuple(f"{c}(可选)" for c in optional))
        raise InvalidInput(
            f"表头缺少列：{'、'.join(missing)}；应有的列：{expected} — the header row has no column"
            f" {'、'.join(missing)}; expected headers: {expected}",
            field="header",
            rule="column_missing",
        )


def validate_schools(rows: list[Row]) -> tuple[list[Good], list[RowError]]:
    """Every school row checked by the sheet's rules; the good ones as (row, 学校代码, the school's details)."""
    rows = _as_template(rows, SCHOOL_HEADER_ALIASES)
    _require_columns(rows, SCHOOL_COLUMNS)
    check, good, seen = _Checker(), [], {}
    for row in rows:
        check.at(row)
        code = check.text(
            "学校代码", pattern=r"[0-9A-Za-z]{4,20}", rule=("应为4至20位字母或数字", "must be 4–20 letters or digits")
        )
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
    """Every inspector row checked by the sheet's rules; the good ones as (row, 督学编号, the inspector's details)."""
    rows = _as_template(rows, INSPECTOR_HEADER_ALIASES)
    _require_columns(rows, INSPECTOR_COLUMNS, INSPECTOR_OPTIONAL)
    check, good, seen = _Checker(), [], {}
    for row in rows:
        check.at(row)
        number = check.text(
            "督学编号",
            pattern=r"[0-9A-Za-z_-]{1,40}",
            rule=("应为1至40位字母、数字、_或-", "must be 1–40 letters, digits, _ or -"),
        )
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
            check.fail(
                "公开联系方式",
                "挂牌督学须填写公开联系方式（挂牌上公示）",
                "a 挂牌督学 must have a public contact; the school's sign shows it",
            )
        if number and body["jurisdiction"]:
            # Numbers are the office's own, so two counties in one file may both have a 001.
            check.unique(
                "督学编号", (body["jurisdiction"], number), seen, number, ("（同一区县代码）", " (same 区县代码)")
            )
        if check.row_ok:
            good.append((row.number, number, body))
    return good, check.errors


# --- importing (in the registry) ----------------------------------------------------------------------------------

VALIDATE = {"schools": validate_schools, "inspectors": validate_inspectors}
# Why the registry refuses a row that the sheet's own rules let through, in the office's words.
REFUSED_ZH = {
    "out_of_scope": "不在您的管辖范围内，不能由本级导入",
    "instance_boundary": "不属于本平台管辖的地区",
    "outside_import_place": "不在本次导入的地区范围内",
}


def _prepare(
    app: Any, kind: str, key: str, body: dict[str, Any], *, now: Any, authorize: Any, seal: bool
) -> tuple[Any, bool]:
    if kind == "schools":
        return app.prepare_school_import(ImportSchool(code=key, now=now, **body), authorize)
    return app.prepare_inspector_import(ImportInspector(number=key, now=now, **body), authorize, seal=seal)


def import_rows(
    app: Any, kind: str, rows: list[Row], *, now: Any, authorize: Any, envelope: Any, dry_run: bool
) -> dict[str, Any]:
    """An office's list in the registry: every row checked by the sheet's rules, then against the registry itself (the
    caller's scope, what is already there, each record's own rules); then every row recorded in one transaction, or
    none. A dry run does all of it but the recording, so it answers exactly what the import will do."""
    good, errors = VALIDATE[kind](rows)
    changed: list[Any] = []
    new = 0
    for number, key, body in good:
        try:
            aggregate, created = _prepare(app, kind, key, body, now=now, authorize=authorize, seal=not dry_run)
        except Problem as e:
            errors.append(RowError(number, None, REFUSED_ZH.get(e.rule, f"登记簿不接受这一行（{e.rule}）"), e.detail))
            continue
        new += created
        changed.append(aggregate)
    errors.sort(key=lambda e: (e.row, e.column or ""))
    report: dict[str, Any] = {
        "kind": kind,
        "rows": len(rows),
        "good": len(changed),
        "bad": len({e.row for e in errors}),
        "new": new,
        "existing": len(changed) - new,
        "errors": [asdict(e) | {"detail": str(e)} for e in errors],
        "dry_run": dry_run,
        "imported": 0,
    }
    if errors or dry_run or not changed:
        return report
    app.save_checked(*changed, envelope=envelope)  # all rows in one transaction, or none
    return report | {"imported": len(changed)}
