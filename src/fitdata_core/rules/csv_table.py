"""The shape of an uploaded table: its header row made usable, and what its columns hold.

:func:`clean_headers` turns a file's first row into names a mapping can use. Decisions (so that
every header is a unique, non-empty name and no value is silently dropped):

* names are trimmed; empty names after the last named column are a spreadsheet's blank
  trailing columns and dropped (with their cells; a value found there is reported by the
  reader);
* an empty name between named columns becomes ``Column N`` (N counts from 1, as a spreadsheet's
  columns do), reported;
* a repeated name gets a suffix, ``Phone (2)``, reported: both columns stay mappable.

:class:`ColumnProfile` looks at rows as they stream past and remembers, per column, how many
values look like emails, phones or dates (from a sample) and the date-order evidence (from
every row), so mapping suggestions and per-column date decisions need no second copy of the
file.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_values import DateOrderEvidence

__all__ = [
    "CleanHeaders",
    "ColumnProfile",
    "ColumnStats",
    "clean_headers",
]


@attrs.frozen
class CleanHeaders:
    """The usable header names (one per kept column) and what was changed to get them."""

    names: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return len(self.names)


def clean_headers(raw: Sequence[str | None]) -> CleanHeaders:
    """Unique, non-empty names for a file's header row (see the module docstring).

    Raises ``InvalidInput`` when the row names no column at all.
    """
    names = [(name or "").replace("\ufeff", "").strip() for name in raw]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise InvalidInput("The file's first row names no columns; it must hold the headers.")
    warnings: list[str] = []
    for index, name in enumerate(names):
        if not name:
            names[index] = f"Column {index + 1}"
            warnings.append(f"Column {index + 1} has no header; it is called {names[index]!r}.")
    taken: set[str] = set()
    first_at: dict[str, int] = {}
    for index, name in enumerate(names):
        key = name.casefold()
        if key not in taken:
            taken.add(key)
            first_at[key] = index
            continue
        suffix = 2
        while f"{name} ({suffix})".casefold() in taken:
            suffix += 1
        unique = f"{name} ({suffix})"
        taken.add(unique.casefold())
        first_at[unique.casefold()] = index
        names[index] = unique
        warnings.append(
            f"Header {name!r} appears more than once (columns {first_at[key] + 1} and"
            f" {index + 1}); column {index + 1} is called {unique!r}."
        )
    return CleanHeaders(tuple(names), tuple(warnings))


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?\d{8,13}", re.ASCII)
_PHONE_NOISE = str.maketrans("", "", " -().")
_DATE = re.compile(
    r"(\d{1,2})([/.\-])\d{1,2}\2(\d{4}|\d{2})(?:[ T].*)?|(\d{4})-\d{1,2}-\d{1,2}", re.ASCII
)


@attrs.frozen
class ColumnStats:
    """What the sampled values of one column look like."""

    filled: int
    emails: int
    phones: int
    dates: int
    median_year: int | None

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0


@attrs.define
class ColumnProfile:
    """Per-column observations of a streamed table (see the module docstring).

    ``sample_rows`` bounds the value sniffing; date-order evidence keeps being gathered from
    every row for the columns that hold dates, because one ``25/03/2024`` anywhere decides a
    column.
    """

    headers: tuple[str, ...]
    sample_rows: int = 1000
    rows: int = 0
    _filled: list[int] = attrs.field(init=False)
    _emails: list[int] = attrs.field(init=False)
    _phones: list[int] = attrs.field(init=False)
    _dates: list[int] = attrs.field(init=False)
    _years: list[list[int]] = attrs.field(init=False)
    evidence: tuple[DateOrderEvidence, ...] = attrs.field(init=False)
    _date_columns: list[int] | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        width = len(self.headers)
        self._filled = [0] * width
        self._emails = [0] * width
        self._phones = [0] * width
        self._dates = [0] * width
        self._years = [[] for _ in range(width)]
        self.evidence = tuple(DateOrderEvidence() for _ in range(width))

    def observe(self, cells: Sequence[str]) -> None:
        """Take one data row (cells in header order, as wide as ``headers``)."""
        self.rows += 1
        if self.rows <= self.sample_rows:
            self._sniff(cells)
            return
        if self._date_columns is None:  # after the sample, only date columns are looked at
            self._date_columns = [i for i, e in enumerate(self.evidence) if e.seen]
        for index in self._date_columns:
            value = cells[index]
            if value:
                self.evidence[index].observe(value)

    def _sniff(self, cells: Sequence[str]) -> None:
        for index, raw in enumerate(cells):
            value = raw.strip()
            if not value:
                continue
            self._filled[index] += 1
            if "@" in value:
                if _EMAIL.fullmatch(value):
                    self._emails[index] += 1
                continue
            date = _DATE.fullmatch(value)
            if date is not None:
                self._dates[index] += 1
                year = date.group(4) or date.group(3)
                self._years[index].append(int(year) if len(year) == 4 else -1)
                self.evidence[index].observe(value)
            elif _PHONE.fullmatch(value.translate(_PHONE_NOISE)):
                self._phones[index] += 1

    def stats(self, header: str) -> ColumnStats:
        index = self.headers.index(header)
        years = [y for y in self._years[index] if y > 0]
        return ColumnStats(
            filled=self._filled[index],
            emails=self._emails[index],
            phones=self._phones[index],
            dates=self._dates[index],
            median_year=int(statistics.median_low(years)) if years else None,
        )

    def date_evidence(self, header: str) -> DateOrderEvidence:
        return self.evidence[self.headers.index(header)]
