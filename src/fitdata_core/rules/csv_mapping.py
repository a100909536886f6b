"""Column mappings for CSV and Excel imports: suggested, validated, and applied to rows.

A mapping has the spec's shape, ``{"memberFields": {"<csv header>": "<field>"}, "planFields":
{...}}``, over the vocabulary of :mod:`fitdata_core.rules.import_fields`.

* :func:`suggest_mapping` guesses one from the headers (English and Hebrew aliases, compared
  after :func:`normalize_header`) and, for columns no header explains, from the values (a
  column of emails is the email column). An empty suggestion is a valid answer: the owner maps
  by hand.
* :func:`validate_mapping` checks what a client sends back and names every problem at once.
* :func:`headers_fingerprint` and :func:`recall_mapping` let an org's confirmed mapping be
  suggested first for the next file with the same headers.
* :class:`RowMapper` turns raw rows into :class:`MappedRecord`\\ s: field → value strings with
  the CSV fixes of :mod:`fitdata_core.rules.csv_values` applied, each fix counted, each unusable
  value reported with its column and reason. Email syntax and E.164 are left to the engine.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_table import ColumnProfile
from fitdata_core.rules.csv_values import (
    DateOrder,
    FixKind,
    UnusableValue,
    fix_date,
    fix_phone,
)
from fitdata_core.rules.import_fields import MEMBER_FIELDS, PLAN_FIELDS, FieldKind, ImportField

__all__ = [
    "ColumnMapping",
    "FixTally",
    "MappedRecord",
    "RowMapper",
    "ValueProblem",
    "date_orders",
    "describe_fix",
    "headers_fingerprint",
    "normalize_header",
    "recall_mapping",
    "split_full_name",
    "suggest_mapping",
    "validate_mapping",
]

# --- headers ------------------------------------------------------------------------------

# Quote marks of every kind, Hebrew geresh/gershayim included: דוא"ל, דוא״ל and דואל are one.
_QUOTES = str.maketrans("", "", "\"'`\u05f3\u05f4\u2018\u2019\u201c\u201d")
_NON_WORD = re.compile(r"[\W_]+")


def normalize_header(header: str) -> str:
    """``header`` for comparison: case-folded, without quotes or vowel marks, punctuation as
    single spaces (``" E-Mail_Address "`` → ``"e mail address"``)."""
    text = unicodedata.normalize("NFKD", header)
    text = "".join(c for c in text if not unicodedata.combining(c))  # niqqud, accents
    text = text.casefold().translate(_QUOTES)
    return _NON_WORD.sub(" ", text).strip()


def _compact(header: str) -> str:
    # Spaces dropped too, so "first name", "firstname" and "First-Name" meet.
    return normalize_header(header).replace(" ", "")


def _alias_table(fields: Iterable[ImportField]) -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in fields:
        for alias in (spec.key, *spec.aliases):
            table.setdefault(_compact(alias), spec.key)
    return table


_MEMBER_ALIASES = _alias_table(MEMBER_FIELDS.values())
_PLAN_ALIASES = _alias_table(PLAN_FIELDS.values())
_MEMBER_KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        (
            (tuple(normalize_header(k).split()), spec.key)
            for spec in MEMBER_FIELDS.values()
            for k in spec.keywords
        ),
        key=lambda item: -len(item[0]),  # the longest keyword wins ("first name" over "name")
    )
)
# A header with one of these words names a second or someone else's value ("Phone 2",
# "Emergency phone", "טלפון נוסף"): never guessed from a keyword inside it.
_NOT_THE_MEMBERS_OWN = frozenset(
    (
        *("2", "3", "second", "secondary", "additional", "other", "alternate", "emergency"),
        *("parent", "parents", "guardian", "old", "previous"),
        *("נוסף", "נוספת", "שני", "חירום", "הורה", "הורים", "אחר", "ישן", "קודם"),
    )
)


def _contains(tokens: Sequence[str], keyword: Sequence[str]) -> bool:
    size = len(keyword)
    return any(tuple(tokens[i : i + size]) == tuple(keyword) for i in range(len(tokens) - size + 1))


# --- the mapping --------------------------------------------------------------------------


def _copy(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class ColumnMapping:
    """Which file column feeds which field: header → field key, per entity section."""

    member_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_copy)
    plan_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_copy)

    def to_json(self) -> dict[str, dict[str, str]]:
        """The spec's shape, as the API answers and takes it."""
        return {"memberFields": dict(self.member_fields), "planFields": dict(self.plan_fields)}


def suggest_mapping(
    headers: Sequence[str], profile: ColumnProfile | None = None, *, today: date
) -> ColumnMapping:
    """A likely mapping for ``headers`` (see the module docstring); ``profile`` adds what the
    values say, ``today`` tells birth dates (at least 10 years back) from other dates."""
    member: dict[str, str] = {}
    used: set[str] = set()

    def assign(header: str, field: str) -> None:
        if header not in member and field not in used:
            member[header] = field
            used.add(field)

    for header in headers:  # exact aliases first, in column order
        field = _MEMBER_ALIASES.get(_compact(header))
        if field is not None:
            assign(header, field)
    for header in headers:  # then a known keyword inside a longer header
        tokens = normalize_header(header).split()
        if header in member or _NOT_THE_MEMBERS_OWN.intersection(tokens):
            continue
        for keyword, field in _MEMBER_KEYWORDS:
            if field not in used and _contains(tokens, keyword):
                assign(header, field)
                break
    if profile is not None:
        for header in headers:  # then the values of the columns still unexplained
            if header not in member and header in profile.headers:
                field = _field_from_values(profile, header, today)
                if field is not None:
                    assign(header, field)
    return ColumnMapping(member, _suggest_plan_fields(headers, member))


def headers_fingerprint(headers: Iterable[str]) -> str:
    """A stable key for "a file with the same headers": the normalised names, order ignored
    (a re-export that moves a column is the same file to its owner). Store a confirmed mapping
    under it to suggest it first next time (:func:`recall_mapping`)."""
    names = sorted({normalize_header(h) for h in headers})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def recall_mapping(remembered: object, headers: Sequence[str]) -> ColumnMapping | None:
    """A remembered mapping (its JSON form) if it still fits ``headers`` exactly as it was
    confirmed (every column present, every field known, no field twice), else None: a stale
    memory falls back to :func:`suggest_mapping` rather than failing the upload."""
    try:
        return validate_mapping(remembered, headers, members=False)
    except InvalidInput:
        return None


def _field_from_values(profile: ColumnProfile, header: str, today: date) -> str | None:
    stats = profile.stats(header)
    if stats.filled == 0:
        return None
    if stats.share(stats.emails) >= 0.8:
        return "email"
    if stats.share(stats.phones) >= 0.8:
        return "phone"
    # Dates mostly ten or more years back are birthdays (membership dates are recent).
    old = stats.median_year is not None and stats.median_year <= today.year - 10
    if stats.share(stats.dates) >= 0.8 and old:
        return "birthDate"
    return None


def _suggest_plan_fields(headers: Sequence[str], member: Mapping[str, str]) -> dict[str, str]:
    # Plans are only worth suggesting when the file prices them: no plan without a price.
    plan: dict[str, str] = {}
    for header in headers:
        field = _PLAN_ALIASES.get(_compact(header))
        if field is not None and field not in plan.values():
            plan[header] = field
    if "price" not in plan.values():
        return {}
    if "name" not in plan.values():
        plan_name = next((h for h, f in member.items() if f == "planName"), None)
        if plan_name is not None:
            plan[plan_name] = "name"
    return plan


def validate_mapping(
    raw: object,
    headers: Sequence[str],
    *,
    members: bool = True,
    plans: bool = False,
    leads: bool = False,
) -> ColumnMapping:
    """The mapping a client sent, checked against the file's ``headers`` and the entities to
    import; ``InvalidInput`` (``field="columnMapping"``) naming every problem otherwise.

    A header mapped to ``null`` or ``""`` is simply not imported. Problems: a section that is
    not an object, an unknown header, an unknown field, a field fed by two headers, members
    without an email column, leads with neither email nor phone, plans without name and price.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            'columnMapping must be an object: {"memberFields": {"<csv header>": "<field>"}}.',
            field="columnMapping",
        )
    problems: list[str] = []
    known = set(headers)
    member = _section(raw, "memberFields", MEMBER_FIELDS, known, problems)
    plan = _section(raw, "planFields", PLAN_FIELDS, known, problems)
    for key in raw:
        if key not in ("memberFields", "planFields"):
            problems.append(f"unknown section {key!r} (allowed: memberFields, planFields)")
    mapped = set(member.values())
    if members and "email" not in mapped:
        problems.append("members need an email column: map one column to 'email'")
    if leads and not mapped & {"email", "phone"}:
        problems.append("leads need an email or a phone column")
    if plans and not {"name", "price"} <= set(plan.values()):
        problems.append("plans need planFields columns for 'name' and 'price'")
    if problems:
        raise InvalidInput(
            "Invalid column mapping: " + "; ".join(problems) + ".", field="columnMapping"
        )
    return ColumnMapping(member, plan)


def _section(
    raw: Mapping[Any, Any],
    name: str,
    vocabulary: Mapping[str, ImportField],
    headers: set[str],
    problems: list[str],
) -> dict[str, str]:
    section = raw.get(name)
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(f"{name} must be an object of header → field")
        return {}
    result: dict[str, str] = {}
    first_header: dict[str, str] = {}
    for header, field in section.items():
        if field is None or field == "":
            continue
        if not isinstance(header, str) or header not in headers:
            problems.append(f"{name}: the file has no column {header!r}")
            continue
        if not isinstance(field, str) or field not in vocabulary:
            problems.append(
                f"{name}: unknown field {field!r} for column {header!r}"
                f" (allowed: {', '.join(vocabulary)})"
            )
            continue
        if field in first_header:
            problems.append(
                f"{name}: field {field!r} is mapped from both {first_header[field]!r}"
                f" and {header!r}"
            )
            continue
        first_header[field] = header
        result[header] = field
    return result


# --- applying a mapping to rows -----------------------------------------------------------


@attrs.frozen
class ValueProblem:
    """An unusable value: the row fails with this column and reason."""

    column: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}"


class MappedRecord(NamedTuple):
    """One data row as field → value strings (empty values left out).

    ``row`` is the spreadsheet row number (the header is row 1), ``cells`` the row as read
    (for a rejects file), ``fixes`` the ``(column, kind)`` repairs applied, ``problems`` the
    values no repair could save (the row should fail with them). A named tuple rather than an
    attrs class: one is built per row of a million-row file, and a tuple is built fastest.
    """

    row: int
    values: dict[str, str]
    cells: Sequence[str]
    fixes: tuple[tuple[str, FixKind], ...] = ()
    problems: tuple[ValueProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def split_full_name(value: str) -> tuple[str, str]:
    """A full name as (first, last): the first word, and the rest (which may be empty).
    Words are split at any whitespace (a tab or a stray carriage return too)."""
    parts = value.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def date_orders(
    profile: ColumnProfile, mapping: ColumnMapping
) -> tuple[dict[str, DateOrder], list[str]]:
    """The order each date column of ``mapping`` is read in, and warnings about the doubtful
    ones (ambiguous: read dd/mm; conflicting: read the majority's way)."""
    orders: dict[str, DateOrder] = {}
    warnings: list[str] = []
    for header, field in mapping.member_fields.items():
        if MEMBER_FIELDS[field].kind not in (FieldKind.DATE, FieldKind.BIRTH_DATE):
            continue
        if header not in profile.headers:
            continue
        evidence = profile.date_evidence(header)
        orders[header] = evidence.order
        if evidence.is_ambiguous and evidence.prior is not None:
            warnings.append(
                f"{header}: every date could be day or month first; read as"
                f" {evidence.order.value}/yyyy, as in the import confirmed before for a file"
                " with these headers."
            )
        elif evidence.is_ambiguous:
            warnings.append(
                f"{header}: every date could be day or month first; read as"
                f" {evidence.order.value}/yyyy."
            )
        elif evidence.is_conflicting:
            warnings.append(
                f"{header}: {evidence.day_first} dates are day first and {evidence.month_first}"
                f" month first; read as {evidence.order.value}/yyyy, the others fail."
            )
    return orders, warnings


_Convert = Callable[[str], tuple[str, FixKind | None]]


class RowMapper:
    """A mapping compiled for one file: ``map(row, cells)`` → :class:`MappedRecord`.

    ``fields`` must name only ``headers`` (a mapping from :func:`validate_mapping` or
    :func:`suggest_mapping` over the same file). With a ``tally``, every fix is also counted
    there as it happens.

    Built once per file; ``map`` is the per-row hot path, so plain text fields cost a strip
    and a dict store, and only phone and date columns run their fixes.
    """

    __slots__ = ("_converted", "_full_name", "_plain", "_tally")

    def __init__(
        self,
        headers: Sequence[str],
        fields: Mapping[str, str],
        *,
        vocabulary: Mapping[str, ImportField] = MEMBER_FIELDS,
        orders: Mapping[str, DateOrder] | None = None,
        today: date,
        tally: FixTally | None = None,
    ) -> None:
        orders = orders or {}
        self._tally = tally
        index = {header: i for i, header in enumerate(headers)}
        plain: list[tuple[int, str]] = []
        converted: list[tuple[int, str, str, _Convert]] = []
        self._full_name: tuple[int, str] | None = None
        for header, field in fields.items():
            kind = vocabulary[field].kind
            convert = _converter(kind, orders.get(header), today)
            if kind is FieldKind.FULL_NAME:
                self._full_name = (index[header], header)
            elif convert is None:
                plain.append((index[header], field))
            else:
                converted.append((index[header], header, field, convert))
        self._plain = tuple(plain)
        self._converted = tuple(converted)

    def map(self, row: int, cells: Sequence[str]) -> MappedRecord:
        # Plain text columns in one comprehension (the bulk of the work, at C speed where it
        # can be); only phone and date columns go through their fixes.
        values = {field: value for index, field in self._plain if (value := cells[index].strip())}
        fixes: list[tuple[str, FixKind]] | None = None
        problems: list[ValueProblem] | None = None
        for index, header, field, convert in self._converted:
            value = cells[index].strip()
            if not value:
                continue
            try:
                value, fix = convert(value)
            except UnusableValue as exc:
                problems = problems or []
                problems.append(ValueProblem(header, field, exc.message))
                continue
            if fix is not None:
                fixes = fixes or []
                fixes.append((header, fix))
                if self._tally is not None:
                    self._tally.counts[header, fix] += 1
            values[field] = value
        if self._full_name is not None:
            self._split(values, cells[self._full_name[0]])
        return MappedRecord(
            row, values, cells, tuple(fixes) if fixes else (), tuple(problems) if problems else ()
        )

    @staticmethod
    def _split(values: dict[str, str], full: str) -> None:
        # A first/last name column of the row's own wins; the full name fills what is missing.
        first, last = split_full_name(full)
        if first and "firstName" not in values:
            values["firstName"] = first
        if last and "lastName" not in values:
            values["lastName"] = last


def _converter(kind: FieldKind, order: DateOrder | None, today: date) -> _Convert | None:
    if kind is FieldKind.PHONE:
        return fix_phone
    if kind in (FieldKind.DATE, FieldKind.BIRTH_DATE):
        column_order = order or DateOrder.DAY_FIRST
        past = kind is FieldKind.BIRTH_DATE

        # Dates repeat (a birthday is shared by many members, a start date by a whole intake):
        # a bounded cache per column skips re-parsing them and keeps memory flat.
        @lru_cache(maxsize=16384)
        def convert(value: str) -> tuple[str, FixKind | None]:
            return fix_date(value, column_order, today=today, past=past)

        return convert
    return None


_FIX_WORDS: Mapping[FixKind, str] = {
    FixKind.PHONE_LEADING_ZERO: "restored the leading zero Excel dropped",
    FixKind.PHONE_COUNTRY_CODE: "restored the + before the country code",
    FixKind.PHONE_FROM_NUMBER: "read a number cell as a phone",
    FixKind.DATE_TWO_DIGIT_YEAR: "completed a two-digit year",
    FixKind.DATE_EXCEL_SERIAL: "converted an Excel day number to a date",
}


def describe_fix(kind: FixKind) -> str:
    """What a fix did, in words ("restored the leading zero Excel dropped")."""
    return _FIX_WORDS[kind]


@attrs.define
class FixTally:
    """Fixes counted per column and kind, for the import's warnings."""

    counts: Counter[tuple[str, FixKind]] = attrs.field(factory=Counter)

    def add(self, record: MappedRecord) -> None:
        if record.fixes:
            self.counts.update(record.fixes)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def warnings(self) -> list[str]:
        """One line per column and kind, in the order first met:
        ``"Phone: restored the leading zero Excel dropped (120 values)."``"""
        return [
            f"{column}: {_FIX_WORDS[kind]} ({count} value{'s' if count != 1 else ''})."
            for (column, kind), count in self.counts.items()
        ]
