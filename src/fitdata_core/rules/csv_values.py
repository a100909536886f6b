"""What spreadsheets do to values, undone: Excel's lost phone zeros, and dates in every form.

Only the CSV-specific repairs live here. General validation (email syntax, phone numbers to
E.164) is the import engine's value rules, applied to every source alike; these functions run
before it and hand it strings.

* Phones: Excel reads ``0521234567`` as a number and saves ``521234567``; an international
  ``972521234567`` loses its ``+``; an ``.xlsx`` number cell may come as ``521234567.0``. Those
  are restored. A phone Excel showed in scientific notation (``5.21E+08``) lost its last digits
  and is refused: no repair can bring them back.
* Dates: ``dd/mm/yyyy`` or ``mm/dd/yyyy`` (also with ``.`` or ``-``), decided per column from its
  values by :class:`DateOrderEvidence` (a first part above 12 proves day-first); ``yyyy-mm-dd``;
  two-digit years; Excel serial day numbers (``45000`` is 2023-03-15). All become ISO
  ``YYYY-MM-DD``.

Each function returns the value and the :class:`FixKind` it applied (None when the value was
already fine), or raises :class:`UnusableValue` with a reason an owner can act on.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum

import attrs

from fitdata_core.errors import InvalidInput

__all__ = [
    "DateOrder",
    "DateOrderEvidence",
    "FixKind",
    "UnusableValue",
    "fix_date",
    "fix_phone",
    "parse_day_month",
]


class FixKind(StrEnum):
    """A repair applied to a value; each one is counted as a warning of the import."""

    PHONE_LEADING_ZERO = "phone_leading_zero"
    PHONE_COUNTRY_CODE = "phone_country_code"
    PHONE_FROM_NUMBER = "phone_from_number"
    DATE_TWO_DIGIT_YEAR = "date_two_digit_year"
    DATE_EXCEL_SERIAL = "date_excel_serial"


class UnusableValue(InvalidInput):
    """A value no repair can make usable; the message is the reason, for the row's report."""

    default_code = "UNUSABLE_VALUE"


class DateOrder(StrEnum):
    """How a column writes its slash dates."""

    DAY_FIRST = "dd/mm"
    MONTH_FIRST = "mm/dd"


DEFAULT_DATE_ORDER = DateOrder.DAY_FIRST
"""What an ambiguous column is read as: the platform's home market (Israel) writes day first."""


# Every pattern is ASCII-only: \d would otherwise match other scripts' digits too.

# --- phones -------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+", re.ASCII)
_NUMBER_CELL = re.compile(r"(\d+)\.0+", re.ASCII)
# 972 then the national number, with or without its trunk zero (Excel dropped the "+").
_ISRAEL_NO_PLUS = re.compile(r"972(0?)([23489]\d{7}|[57]\d{8})", re.ASCII)
# Looked up once: on Python 3.11 reading an enum member costs about 0.3 µs, and a column of
# phones Excel stripped of their zero needs one a row.
_LEADING_ZERO = FixKind.PHONE_LEADING_ZERO


def fix_phone(value: str) -> tuple[str, FixKind | None]:
    """``value`` with Excel's damage to an Israeli phone undone; other phones are unchanged.

    ``521234567`` → ``0521234567``; ``21234567`` → ``021234567``; ``972521234567`` and
    ``9720521234567`` → ``+972521234567``; ``521234567.0`` → ``0521234567``. Raises
    :class:`UnusableValue` for scientific notation (digits are lost).
    """
    text = value.strip()
    # Most phones were typed as text ("0521234567", "+972...", "(03) ..."): nothing to undo.
    if not text or not "1" <= text[0] <= "9":
        return text, None
    kind: FixKind | None = None
    if not (text.isascii() and text.isdigit()):
        number = _NUMBER_CELL.fullmatch(text)
        if number is not None:
            text, kind = number.group(1), FixKind.PHONE_FROM_NUMBER
        elif _SCIENTIFIC.fullmatch(text):
            raise UnusableValue(
                f"Excel turned this phone into scientific notation ({text}) and lost its last"
                " digits; format the column as text and export again"
            )
        else:
            return text, None
    size = len(text)
    # Israeli numbers without their trunk zero: mobiles and VoIP (05x, 07x) have 9 digits
    # left, landlines (02, 03, 04, 08, 09) 8. Plain string tests: this runs once per row.
    if (size == 9 and text[0] in "57") or (size == 8 and text[0] in "23489"):
        return "0" + text, _LEADING_ZERO
    if size > 10 and text.startswith("972"):
        international = _ISRAEL_NO_PLUS.fullmatch(text)
        if international is not None:
            return "+972" + international.group(2), FixKind.PHONE_COUNTRY_CODE
    return text, kind


# --- dates --------------------------------------------------------------------------------

# d/m/y with one separator used twice; an optional time after a space or "T" is ignored.
_DAY_MONTH = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T].*)?", re.ASCII)
_ISO = re.compile(r"(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})(?:[ T].*)?", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)  # 20230315
_SERIAL = re.compile(r"(\d{1,5})(?:\.0+)?", re.ASCII)

# Excel counts days from 1899-12-30 (its 1900 leap-year bug is folded into that epoch).
_EXCEL_EPOCH = date(1899, 12, 30)
# Serials from 1901-01-01 to 2099-12-31; a bare four-digit year inside that range is refused.
_SERIAL_MIN, _SERIAL_MAX = 367, 73050


def parse_day_month(value: str) -> tuple[int, int] | None:
    """The first two numbers of a ``d/m/y``-shaped value, or None for any other shape."""
    match = _DAY_MONTH.fullmatch(value.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(3))


@attrs.define
class DateOrderEvidence:
    """What a column's values say about its date order, gathered one value at a time.

    A value whose first part is above 12 can only be day first, one whose second part is
    above 12 only month first; ``3/4/2024`` says nothing. A column with evidence one way only
    is decided; with none it is ambiguous and read day first; with both ways it is
    conflicting, read the majority's way (the other values then fail as dates).
    """

    day_first: int = 0
    month_first: int = 0
    ambiguous: int = 0
    # The order a file with the same headers was proven to have (its confirmed import): it
    # decides a column whose own values prove nothing, e.g. a rejects file of that import
    # holding only dates like 03/04/1985.
    prior: DateOrder | None = None

    def observe(self, value: str) -> None:
        parts = parse_day_month(value)
        if parts is None:
            return
        first, second = parts
        if first > 12 and second <= 12:
            self.day_first += 1
        elif second > 12 and first <= 12:
            self.month_first += 1
        elif first <= 12 and second <= 12:
            self.ambiguous += 1

    @property
    def seen(self) -> bool:
        """Whether any ``d/m/y``-shaped value was observed."""
        return bool(self.day_first or self.month_first or self.ambiguous)

    @property
    def decided(self) -> bool:
        """Whether some value proved the order (the rest cannot change it unless they conflict)."""
        return bool(self.day_first or self.month_first)

    @property
    def is_ambiguous(self) -> bool:
        return self.seen and not self.decided

    @property
    def is_conflicting(self) -> bool:
        return bool(self.day_first and self.month_first)

    @property
    def order(self) -> DateOrder:
        if self.month_first > self.day_first:
            return DateOrder.MONTH_FIRST
        if not self.decided and self.prior is not None:
            return self.prior
        return DEFAULT_DATE_ORDER


def _year(two_or_four: str, *, today: date, past: bool) -> tuple[int, bool]:
    """The four-digit year, and whether it was a two-digit year that had to be placed.

    A birth date lies within the last 100 years; other dates (membership start and end) within
    80 years back and 19 ahead.
    """
    year = int(two_or_four)
    if len(two_or_four) == 4:
        return year, False
    latest = today.year if past else today.year + 19
    year += (latest // 100) * 100
    if year > latest:
        year -= 100
    return year, True


def _iso(year: int, month: int, day: int, original: str) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise UnusableValue(f"{original!r} is not a calendar date") from None


def fix_date(
    value: str, order: DateOrder, *, today: date, past: bool = False
) -> tuple[str, FixKind | None]:
    """``value`` as an ISO date ``YYYY-MM-DD``, or :class:`UnusableValue` with the reason.

    ``order`` is the column's decided order for slash dates (see :class:`DateOrderEvidence`);
    ``past`` places two-digit years in the last 100 years (birth dates). Any time of day is
    dropped. Empty stays empty.
    """
    text = value.strip()
    if not text:
        return text, None
    match = _ISO.fullmatch(text)
    if match is not None:
        year, month, day = int(match.group(1)), int(match.group(3)), int(match.group(4))
        return _iso(year, month, day, text), None
    match = _DAY_MONTH.fullmatch(text)
    if match is not None:
        first, second = int(match.group(1)), int(match.group(3))
        day, month = (first, second) if order is DateOrder.DAY_FIRST else (second, first)
        year, placed = _year(match.group(4), today=today, past=past)
        if month > 12:
            raise UnusableValue(
                f"{text!r} cannot be {order.value}/yyyy like the rest of its column"
                if day <= 12
                else f"{text!r} is not a calendar date"
            )
        iso = _iso(year, month, day, text)
        return iso, FixKind.DATE_TWO_DIGIT_YEAR if placed else None
    match = _COMPACT.fullmatch(text)
    if match is not None and 1900 <= int(match.group(1)) <= 2099:
        return _iso(int(match.group(1)), int(match.group(2)), int(match.group(3)), text), None
    match = _SERIAL.fullmatch(text)
    if match is not None:
        serial = int(match.group(1))
        if len(match.group(1)) == 4 and 1900 <= serial <= 2099:
            raise UnusableValue(f"{text!r} is a year, not a date")
        if _SERIAL_MIN <= serial <= _SERIAL_MAX:
            return (_EXCEL_EPOCH + timedelta(days=serial)).isoformat(), FixKind.DATE_EXCEL_SERIAL
    raise UnusableValue(f"{text!r} is not a date (expected dd/mm/yyyy or yyyy-mm-dd)")
