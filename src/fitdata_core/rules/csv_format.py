"""CSV that spreadsheets open safely: UTF-8 with a BOM, RFC 4180, no formula injection.

Spreadsheet programs execute a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some
strip a leading tab or line break first), so a member who names themselves
``=HYPERLINK("http://evil", "click")`` could attack the owner who opens the export. Following
the OWASP advice, such cells get a leading single quote, which spreadsheets show as text.
Cells that are entirely a number or a phone number (``-12.5``, ``+972-54-123-4567``) are left
alone: digits, spaces, dots, dashes and parentheses can form arithmetic at worst, never a
function call or a reference, and owners need those values unmangled.

Encoding streams: :func:`encode_csv` and :func:`aencode_csv` yield UTF-8 chunks of roughly
``chunk_size`` bytes, so a million-row export never sits in memory whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from itertools import islice
from typing import Any

__all__ = [
    "BOM",
    "FORMULA_TRIGGERS",
    "aencode_csv",
    "csv_preamble",
    "encode_csv",
    "encode_csv_rows",
    "neutralize",
]

BOM = "\ufeff"
"""The byte order mark Excel needs to read a CSV as UTF-8 (so Hebrew names render)."""

# OWASP's list plus line feed and the full-width look-alikes some spreadsheets also accept.
_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

# Entirely a number, or a phone number as people type it (an optional leading plus, then digits
# with the usual separators). Neither holds a letter or an operator other than +/-, so neither
# can name a function or a cell.
_SAFE = re.compile(
    r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|\+?\(?\d[\d ().-]*",
    re.ASCII,  # \d is 0-9 only: other scripts' digits are not numbers to a spreadsheet
)

# Types whose ``str()`` the csv writer already renders as we want (None as an empty cell, a date
# or a time as ISO 8601), so they pass through without a Python call per cell.
_NATIVE = frozenset({int, float, type(None), date, time})

# Rows are handed to the csv writer in batches: its C loop then does the per-row work.
_MAX_BATCH_ROWS = 1024


def neutralize(value: str) -> str:
    """``value`` made safe to open in a spreadsheet: a leading ``'`` if it could start a formula.

    Numbers and phone numbers are returned unchanged, as is any text that cannot trigger.
    """
    if value[:1] not in _TRIGGERS or _SAFE.fullmatch(value):
        return value
    return "'" + value


def _row(row: Sequence[Any], _triggers: frozenset[str] = _TRIGGERS) -> list[object]:
    # The hot loop of every export: the common cells (plain text, numbers, None, dates) are
    # decided inline; only the rest pay for a function call.
    return [
        value
        if ((cls := value.__class__) is str and value[:1] not in _triggers) or cls in _NATIVE
        else _convert(value)
        for value in row
    ]


def _convert(value: object) -> object:
    """A cell the csv writer would not render as we want, as text."""
    # The two cases every export row has (a timestamp, a phone starting with "+") first, by
    # exact class: cheaper than walking the isinstance chain below.
    fast = _FAST.get(value.__class__)
    if fast is not None:
        return fast(value)
    if isinstance(value, str):
        return neutralize(value.value if isinstance(value, Enum) else str(value))
    if isinstance(value, Decimal):
        # Plain notation: str(Decimal("1E+3")) is "1E+3", which spreadsheets read differently.
        text = str(value)
        return text if "E" not in text else format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _row((value.value,))[0]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    return neutralize(str(value))


class _Buffer:
    """A reusable text buffer with one csv writer on it, drained into UTF-8 chunks."""

    def __init__(self, header: Sequence[str], *, bom: bool) -> None:
        self.text = io.StringIO()
        self.writer = csv.writer(
            self.text, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
        )
        if bom:
            self.text.write(BOM)
        self.writer.writerow(_row(header))

    def drain(self) -> bytes:
        data = self.text.getvalue()
        self.text.seek(0)
        self.text.truncate(0)
        # A lone surrogate cannot come from a database, but must not sink a whole export.
        return data.encode("utf-8", "replace")


_FAST: dict[type, Any] = {datetime: datetime.isoformat, str: neutralize}


def encode_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    bom: bool = True,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Encode ``header`` and ``rows`` as CSV, yielding UTF-8 chunks of about ``chunk_size`` bytes.

    RFC 4180: CRLF line ends, fields quoted only when needed, embedded quotes doubled. ``None``
    becomes an empty cell, dates and times ISO 8601, ``Decimal`` plain notation, booleans
    ``true``/``false``; every text cell is passed through :func:`neutralize`. With ``bom`` the
    first chunk starts with the UTF-8 byte order mark. Yields at least one chunk.
    """
    buffer = _Buffer(header, bom=bom)
    text, writerows = buffer.text, buffer.writer.writerows
    iterator = iter(rows)
    batch = 16
    while True:
        before = text.tell()
        writerows(map(_row, islice(iterator, batch)))
        size = text.tell()
        if size == before:  # every row, even an empty one, writes a line end
            break
        # Size the next batch from the last one so chunks land near chunk_size.
        per_row = max(1, (size - before) // batch)
        if size >= chunk_size:
            yield buffer.drain()
            size = 0
        batch = min(_MAX_BATCH_ROWS, (chunk_size - size) // per_row + 1)
    yield buffer.drain()


FORMULA_TRIGGERS: frozenset[str] = _TRIGGERS
"""First characters that make a spreadsheet treat a cell as a formula (see :func:`neutralize`)."""


def csv_preamble(header: Sequence[str], *, bom: bool = True) -> bytes:
    """What :func:`encode_csv` writes before the first row: the BOM and the header line."""
    return _Buffer(header, bom=bom).drain()


def encode_csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """``rows`` as CSV text exactly as :func:`encode_csv` writes them after its header."""
    text = io.StringIO()
    writer = csv.writer(text, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(map(_row, rows))
    return text.getvalue()


async def aencode_csv(
    header: Sequence[str],
    rows: AsyncIterable[Sequence[object]],
    *,
    bom: bool = True,
    chunk_size: int = 64 * 1024,
) -> AsyncIterator[bytes]:
    """:func:`encode_csv` for rows that arrive asynchronously (e.g. a streamed database query)."""
    buffer = _Buffer(header, bom=bom)
    text, writerow = buffer.text, buffer.writer.writerow
    async for row in rows:
        writerow(_row(row))
        if text.tell() >= chunk_size:
            yield buffer.drain()
    yield buffer.drain()
