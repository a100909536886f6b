"""Delimited text files: the delimiter found from the first records, rows parsed streaming.

The delimiter is the candidate (``,`` ``;`` tab ``|``) that splits the header into the most
columns while keeping the following records as wide as the header: ``csv.Sniffer`` guesses
from character frequencies and is fooled by a comma inside an address, so records are parsed
with each candidate (quotes respected) and compared.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

from fitdata_core.errors import InvalidInput

__all__ = ["DELIMITERS", "detect_delimiter", "iter_csv_rows"]

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_RECORDS = 50


def _score(sample: str, delimiter: str, *, complete: bool) -> tuple[float, int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    widths: list[int] = []
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                widths.append(len(record))
            if len(widths) > _SAMPLE_RECORDS:
                break
    except csv.Error:
        return (0.0, 0)
    if not complete and len(widths) > 1 and len(widths) <= _SAMPLE_RECORDS:
        widths.pop()  # the sample may have cut the last record short
    if not widths or widths[0] < 2:
        return (0.0, 1)
    header = widths[0]
    body = widths[1:] or [header]
    consistent = sum(1 for width in body if width == header) / len(body)
    return (consistent, header)


def detect_delimiter(sample: str, *, complete: bool) -> str:
    """The delimiter of the text that starts with ``sample`` (``,`` for a one-column file)."""
    best = max(DELIMITERS, key=lambda d: _score(sample, d, complete=complete))
    return best if _score(sample, best, complete=complete)[1] > 1 else ","


def iter_csv_rows(text: IO[str], delimiter: str, encoding: str) -> Iterator[list[str]]:
    """Every record of ``text`` as a list of cells, parsed as it is read.

    A broken quote or a byte the encoding cannot decode raises ``InvalidInput`` naming the
    record where it happened.
    """
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    record = 0
    try:
        for row in reader:
            record += 1
            yield row
    except csv.Error as exc:
        raise InvalidInput(
            f"Row {record + 1} cannot be read as CSV ({exc}); a quote may be left open.",
            field="file",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"Row {record + 1} is not valid {encoding} text; save the file as CSV UTF-8.",
            field="file",
        ) from exc
