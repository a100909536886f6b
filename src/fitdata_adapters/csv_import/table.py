"""Open an uploaded ``.csv`` or ``.xlsx`` as a :class:`Table`: clean headers, rows streamed.

The content decides the format, never the name alone: a zip that is an Excel workbook is read
as one; a file named ``.xlsx`` that is not a workbook, and any file whose bytes are not text,
is refused with ``InvalidInput``. Rows are read lazily from the open file, so a million-row
file costs the memory of one row (the caller must not keep them).

Row shaping, the same for both formats: leading and blank lines skipped (a line of empty
cells is blank too), every row as wide as the header (short rows padded with ``""``, values
beyond the last named column dropped and counted in :attr:`Table.warnings`).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import attrs
from openpyxl.workbook.workbook import Workbook

from fitdata_adapters.csv_import.sniff import detect_encoding, refuse_binary
from fitdata_adapters.csv_import.text import detect_delimiter, iter_csv_rows
from fitdata_adapters.csv_import.xlsx import open_workbook, pick_sheet, sheet_rows
from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_table import clean_headers

__all__ = ["Detected", "Source", "Table", "open_table"]


class _Closeable(Protocol):
    def close(self) -> None: ...


Source = bytes | str | os.PathLike[str] | IO[bytes]
"""What :func:`open_table` reads: the bytes, a path, or a seekable binary file."""

_SAMPLE_BYTES = 64 * 1024
_HIGH = re.compile(rb"[\x80-\xff]")
_EXCEL_SEPARATOR = re.compile(r"sep=([,;\t|])\r?\n")
_DELIMITER_NAMES = {",": ",", ";": ";", "\t": "tab", "|": "|"}


@attrs.frozen
class Detected:
    """How the file was read, as the upload answer reports it."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    date_order: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "dateOrder": self.date_order,
            "sheet": self.sheet,
        }


class Table:
    """An open file: :attr:`headers`, :attr:`detected`, and :meth:`rows` (once).

    Use as a context manager (or call :meth:`close`) to release the file.
    """

    def __init__(
        self,
        raw_rows: Iterator[list[str]],
        detected: Detected,
        closer: _Closeable | None,
        warnings: list[str],
    ) -> None:
        self.detected = detected
        self._closer = closer
        self._raw = raw_rows
        self._row = 0
        header = self._first_nonblank()
        if header is None:
            self.close()
            raise InvalidInput("The file holds no rows.", field="file")
        cleaned = clean_headers(header)
        self.headers: tuple[str, ...] = cleaned.names
        self.warnings: list[str] = [*warnings, *cleaned.warnings]
        self._consumed = False

    def _first_nonblank(self) -> list[str] | None:
        for raw in self._raw:
            self._row += 1
            if any(cell.strip() for cell in raw):
                return raw
        return None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cells)`` for each non-blank data row; row numbers are the
        spreadsheet's (the header's row, usually 1, counts)."""
        if self._consumed:
            raise RuntimeError("Table.rows() reads the file once; open the table again")
        self._consumed = True
        return self._rows()

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.headers)
        number = self._row
        pad = [""] * width
        overflow = 0
        try:
            for cells in self._raw:
                number += 1
                size = len(cells)
                if size == width:
                    # any() first: the common blank line ",,,," costs no join.
                    if not any(cells) or not "".join(cells).strip():
                        continue
                elif size < width:
                    if not "".join(cells).strip():
                        continue
                    cells.extend(pad[size:])
                else:
                    if any(cells[width:]):
                        overflow += 1
                    del cells[width:]
                    if not "".join(cells).strip():
                        continue
                yield number, cells
        finally:
            if overflow:
                self.warnings.append(
                    f"{overflow} row{'s' if overflow != 1 else ''} had values beyond the last"
                    " named column; those values were ignored."
                )

    def close(self) -> None:
        if self._closer is not None:
            self._closer.close()
            self._closer = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(source: Source) -> IO[bytes]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        return Path(source).open("rb")
    return source


def _sample(stream: IO[bytes]) -> tuple[bytes, bool]:
    """The file's first bytes, plus the neighbourhood of its first non-ASCII byte when that
    comes later (an ASCII start says nothing about the Hebrew further down), and whether the
    sample is the whole file. Leaves ``stream`` at its start."""
    head = stream.read(_SAMPLE_BYTES)
    complete = len(head) < _SAMPLE_BYTES
    sample = head
    if not complete and _HIGH.search(head) is None:
        offset = len(head)
        while chunk := stream.read(1024 * 1024):
            found = _HIGH.search(chunk)
            if found is not None:
                start = max(0, found.start() - 1024)
                # Start on a line so a multi-byte character is not cut in half.
                line = chunk.rfind(b"\n", 0, found.start())
                start = line + 1 if line >= 0 else start
                sample = head + b"\n" + chunk[start : start + _SAMPLE_BYTES]
                break
            offset += len(chunk)
    stream.seek(0)
    return sample, complete


def open_table(source: Source, *, filename: str | None = None, sheet: str | None = None) -> Table:
    """Open ``source`` (see the module docstring); ``sheet`` picks an ``.xlsx`` sheet by name.

    A file object is taken over: the table closes it. Raises ``InvalidInput`` for an empty
    file, content that is not text or not a real workbook, an unknown sheet (the message lists
    them) or a file with no header row.
    """
    stream = _open(source)
    try:
        head = stream.read(8)
        stream.seek(0)
        if not head:
            raise InvalidInput("The file is empty.", field="file")
        is_zip = head.startswith(b"PK\x03\x04")
        if is_zip or (filename or "").lower().endswith((".xlsx", ".xlsm")):
            if not is_zip:
                raise InvalidInput(
                    "The file is named .xlsx but is not an Excel workbook.", field="file"
                )
            return _open_xlsx(stream, sheet)
        refuse_binary(head)
        return _open_text(stream, sheet)
    except BaseException:
        stream.close()
        raise


def _open_xlsx(stream: IO[bytes], sheet: str | None) -> Table:
    workbook = open_workbook(stream)
    try:
        chosen = pick_sheet(workbook, sheet)
    except InvalidInput:
        workbook.close()
        raise
    return Table(sheet_rows(chosen), Detected(sheet=chosen.title), _Closer(workbook, stream), [])


class _Closer:
    """Closes a read-only workbook (it holds the zip open), then the file under it."""

    def __init__(self, workbook: Workbook, stream: IO[bytes]) -> None:
        self._workbook = workbook
        self._stream = stream

    def close(self) -> None:
        self._workbook.close()
        self._stream.close()


def _open_text(stream: IO[bytes], sheet: str | None) -> Table:
    sample, complete = _sample(stream)
    encoding = detect_encoding(sample, complete=complete)
    text = io.TextIOWrapper(stream, encoding=encoding.codec, newline="")
    try:
        preview = text.read(_SAMPLE_BYTES)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The file is not valid {encoding.name} text; save it as CSV UTF-8.", field="file"
        ) from exc
    text.seek(0)
    declared = _EXCEL_SEPARATOR.match(preview)
    if declared is not None:
        # Excel's own hint line ("sep=;"), which Excel hides: obey it and skip it.
        delimiter = declared.group(1)
        text.readline()
    else:
        delimiter = detect_delimiter(preview, complete=complete)
    rows = iter_csv_rows(text, delimiter, encoding.name)
    warnings = [f"Sheet {sheet!r} ignored: a CSV file has no sheets."] if sheet else []
    table = Table(
        rows,
        Detected(encoding=encoding.name, delimiter=_DELIMITER_NAMES[delimiter]),
        text,
        warnings,
    )
    _refuse_prose(table)
    return table


def _refuse_prose(table: Table) -> None:
    """Refuse a text file that is not a table: its "headers" are sentences, not names."""
    if any(len(name) > 80 or len(name.split()) > 8 for name in table.headers):
        table.close()
        raise InvalidInput(
            "The file does not look like a table: its first line is text, not column names.",
            field="file",
        )
