"""Submissions from an office's spreadsheet (one row per school, Chinese headers): every bad cell is reported by
row and column, and nothing is imported unless every row is good.

Columns: 学校代码 or 学校名称 names the school; each input is a column headed by its Chinese label
(`教学仪器设备值`), a per-stage input once per stage (`在校生数（小学）`, `在校生数（初中）`).
`template` writes exactly those headers, with a row for each school expected to submit.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from dudao.errors import InvalidInput
from dudao.sheets import Row
from services.monitoring.domain.compute import taught_stages, validate
from services.monitoring.domain.definition import Definition

STAGE_LABELS = {"primary": "小学", "junior_secondary": "初中", "senior_secondary": "高中"}
SCHOOL_CODE, SCHOOL_NAME = "学校代码", "学校名称"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def columns(definition: Definition) -> dict[str, tuple[str, str | None]]:
    """Header -> (input, stage): what each column of the sheet carries."""
    found: dict[str, tuple[str, str | None]] = {}
    stages = (
        *definition.stages,
        *[s for w in (definition.split.weights.values() if definition.split else ()) for s in w],
    )
    for spec in definition.inputs:
        if spec.per_stage:
            for stage in dict.fromkeys(stages):
                found[f"{spec.label_zh}（{STAGE_LABELS.get(stage, stage)}）"] = (spec.key, stage)
        else:
            found[spec.label_zh] = (spec.key, None)
    return found


@dataclass(frozen=True)
class CellError:
    row: int
    column: str | None
    field: str
    rule: str
    detail: str


@dataclass(frozen=True)
class Checked:
    """A good row: the school it names and its values, ready to enter."""

    row: int
    school: dict[str, Any]
    values: dict[str, Any]


def check(
    definition: Definition, rows: list[Row], schools: list[dict[str, Any]]
) -> tuple[list[Checked], list[CellError]]:
    """Every row against the framework; `schools` are those the caller may submit for (id, code, name, stage, …)."""
    if definition.level != "school":
        raise InvalidInput(
            f"{definition.code} is collected per county, not per school; enter it through the API",
            field="framework",
            rule="not_a_school_framework",
        )
    headers = columns(definition)
    if not rows:
        raise InvalidInput("the sheet has no rows below its header", field="file", rule="empty_sheet")
    present = set(rows[0].cells)
    if not present & {SCHOOL_CODE, SCHOOL_NAME}:
        raise InvalidInput(
            f"the sheet needs a {SCHOOL_CODE} or {SCHOOL_NAME} column", field="file", rule="missing_column"
        )
    unknown = sorted(present - set(headers) - {SCHOOL_CODE, SCHOOL_NAME})
    if unknown:
        raise InvalidInput(
            f"unknown column(s): {', '.join(unknown)}; download the template for this framework",
            field="file",
            rule="unknown_column",
            columns=unknown,
        )
    by_code = {s["code"]: s for s in schools if s.get("code")}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in schools:
        by_name.setdefault(s["name"], []).append(s)
    column_of = {(key, stage): header for header, (key, stage) in headers.items()}
    good, errors, seen = [], [], set()
    for row in rows:
        school = _school(row, by_code, by_name, errors)
        if school is None:
            continue
        if school["id"] in seen:
            errors.append(
                CellError(
                    row.number, SCHOOL_NAME, "unit", "duplicate_school", f"{school['name']} appears twice in the sheet"
                )
            )
            continue
        seen.add(school["id"])
        values, bad = _values(row, headers, taught_stages(definition, school["stage"]))
        errors += bad
        try:
            clean = validate(definition, values, school["stage"])
        except InvalidInput as e:
            for problem in e.extra.get("errors", []):
                parts = problem["field"].split(".")
                column = column_of.get((parts[1], parts[2] if len(parts) > 2 else None)) if len(parts) > 1 else None
                if not any(err.row == row.number and err.column == column for err in bad):
                    errors.append(CellError(row.number, column, problem["field"], problem["rule"], problem["detail"]))
            continue
        if not bad:
            good.append(Checked(row.number, school, clean))
    return good, errors


def _school(row: Row, by_code: dict, by_name: dict, errors: list[CellError]) -> dict[str, Any] | None:
    code, name = row.cells.get(SCHOOL_CODE, ""), row.cells.get(SCHOOL_NAME, "")
    if code:
        if code in by_code:
            return by_code[code]
        errors.append(
            CellError(
                row.number, SCHOOL_CODE, "unit", "unknown_school", f"no school with code {code} in your jurisdiction"
            )
        )
        return None
    matches = by_name.get(name, [])
    if len(matches) == 1:
        return matches[0]
    detail = (
        f"{len(matches)} schools are called {name}; give the 学校代码"
        if matches
        else f"no school called {name!r} in your jurisdiction"
    )
    errors.append(
        CellError(row.number, SCHOOL_NAME, "unit", "ambiguous_school" if matches else "unknown_school", detail)
    )
    return None


def _values(
    row: Row, headers: dict[str, tuple[str, str | None]], taught: tuple[str, ...]
) -> tuple[dict[str, Any], list[CellError]]:
    values: dict[str, Any] = {}
    bad = []
    for header, (key, stage) in headers.items():
        text = row.cells.get(header, "").replace(",", "").replace("，", "")
        if not text:
            continue
        if not NUMBER.match(text):
            bad.append(
                CellError(
                    row.number,
                    header,
                    f"values.{key}" + (f".{stage}" if stage else ""),
                    "number",
                    f"{text!r} is not a number",
                )
            )
            continue
        number = float(text) if "." in text else int(text)
        if stage is None:
            values[key] = number
        elif stage in taught:
            values.setdefault(key, {})[stage] = number
        else:
            bad.append(
                CellError(
                    row.number,
                    header,
                    f"values.{key}.{stage}",
                    "stage_not_taught",
                    "this school has no pupils of this stage",
                )
            )
    return values, bad


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses in a cell


def _cell(text: str) -> str:
    """Text a spreadsheet can hold: a control character (refused at entry today, perhaps stored before) is dropped."""
    return _ILLEGAL.sub("", text)


def template(definition: Definition, schools: list[dict[str, Any]]) -> bytes:
    """An .xlsx with the framework's headers and a row per school expected to submit."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = definition.code[:31]
    sheet.append([SCHOOL_CODE, SCHOOL_NAME, *columns(definition)])
    for s in schools:
        sheet.append([_cell(s.get("code") or ""), _cell(s["name"])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
