"""Excel workbooks (``.xlsx``) read with openpyxl in read-only mode, rows as text.

Read-only mode streams the sheet's XML, so memory stays flat in the row count. Cells become the
text an owner would have typed: a date cell its ISO date (``2023-03-15``, with a ``10:30:00`` time
only when it has a time), a whole number without ``.0`` (a phone Excel stored as a number
comes out as its digits, and a ``0000000000`` number format's leading zeros are kept), other
numbers without float noise, booleans ``TRUE``/``FALSE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import IO, Any

import openpyxl
from openpyxl.workbook.workbook import Workbook

from fitdata_core.errors import InvalidInput

__all__ = ["open_workbook", "pick_sheet", "render_cell", "sheet_rows"]

_ZEROS_FORMAT = re.compile(r"0+")


def open_workbook(source: IO[bytes]) -> Workbook:
    """The workbook in ``source``, or ``InvalidInput`` when it is not a real ``.xlsx``."""
    try:
        return openpyxl.load_workbook(source, read_only=True, data_only=True)
    # openpyxl reports a damaged or foreign zip as any of zipfile, KeyError, XML or value
    # errors; to the owner they all mean the same thing.
    except Exception as exc:
        raise InvalidInput(
            "The file is not a real .xlsx workbook; save it from Excel as .xlsx or CSV.",
            field="file",
        ) from exc


def pick_sheet(workbook: Workbook, name: str | None) -> Any:
    """The sheet called ``name`` (case-insensitive fallback), else the first one."""
    names = workbook.sheetnames
    if name is None:
        chosen = names[0]
    elif name in names:
        chosen = name
    else:
        folded = [n for n in names if n.casefold() == name.strip().casefold()]
        if not folded:
            listed = ", ".join(repr(n) for n in names)
            raise InvalidInput(
                f"The workbook has no sheet {name!r}; its sheets are {listed}.", field="sheet"
            )
        chosen = folded[0]
    sheet = workbook[chosen]
    if not hasattr(sheet, "iter_rows"):
        raise InvalidInput(f"Sheet {chosen!r} is a chart, not a table.", field="sheet")
    return sheet


def render_cell(value: object, number_format: str | None = None) -> str:
    """A cell's value as text (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        digits = str(value)
        if number_format and _ZEROS_FORMAT.fullmatch(number_format):
            return digits.zfill(len(number_format))
        return digits
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


def sheet_rows(sheet: Any) -> Iterator[list[str]]:
    """Every row of ``sheet`` as text cells, streamed (rows may differ in length)."""
    # Read-only mode trusts the size the file claims for the sheet, and files written by
    # tools other than Excel often claim too little: read every row that is really there.
    sheet.reset_dimensions()
    for row in sheet.iter_rows():
        yield [render_cell(cell.value, getattr(cell, "number_format", None)) for cell in row]
