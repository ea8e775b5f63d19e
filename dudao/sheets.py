"""Reading an office's spreadsheet (.xlsx or .csv, Chinese headers) into rows of text cells, whoever imports it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from dudao.errors import InvalidInput


@dataclass(frozen=True)
class Row:
    """One non-blank data row; `number` is the row as the office sees it (the header is row 1)."""

    number: int
    cells: dict[str, str]


def read_rows(path: str | Path) -> list[Row]:
    """The first sheet (or the CSV) of a file below its header row."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist; check the path", field="file", rule="file_missing")
    return read_bytes(path.read_bytes(), path.name)


def read_bytes(data: bytes, name: str) -> list[Row]:
    """The first sheet (or the CSV) below its header row, blank rows left out, every cell as stripped text."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        records: Iterable[Any] = csv.reader(io.StringIO(_decode(data, name), newline=""))
    elif suffix == ".xlsx":
        records = _xlsx_records(data, name)
    else:
        raise InvalidInput(
            f"{name}: cannot read {suffix or 'a file without extension'}; use .xlsx or .csv",
            field="file",
            rule="file_type",
        )
    header: list[str] | None = None
    rows = []
    for number, record in enumerate(records, 1):
        values = [_text(v) for v in record]
        if not any(values):
            continue
        if header is None:
            header = values
            continue
        cells = {column: (values[i] if i < len(values) else "") for i, column in enumerate(header) if column}
        rows.append(Row(number, cells))
    return rows


def _decode(data: bytes, name: str) -> str:
    # Excel's "CSV UTF-8" starts with a BOM; plain "CSV" on a Chinese Windows is GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        f"{name} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 or .xlsx", field="file", rule="file_encoding"
    )


def _xlsx_records(data: bytes, name: str) -> Iterable[tuple[Any, ...]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise InvalidInput(
            f"{name} is not an .xlsx workbook; open it in Excel and save as .xlsx or CSV UTF-8",
            field="file",
            rule="file_type",
        ) from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is really there
        yield from sheet.iter_rows(min_row=1, values_only=True)
    finally:
        workbook.close()


def _text(value: Any) -> str:
    """A cell as text: 860.0 → "860", so numeric codes and counts read as the office typed them."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
