"""From a mapped CSV row to what the import engine stages: the same value rules as every source.

A :class:`~fitdata_core.rules.csv_mapping.MappedRecord` carries field → value strings (CSV fixes
already applied) and the values no fix could save. Here it is checked by
:mod:`~fitdata_core.rules.import_values`, so a CSV member is judged exactly like an Arbox one
(its values go to ``checked_member``, the rules of ``member_record``, without a
``SourceMember`` in between; leads and plans become a ``SourceLead`` or ``SourcePlan``); an
unusable value fails the row with its column and reason.

Every problem of a CSV row names it by its spreadsheet row number (``source_id`` "row 7": the
header is row 1), which is what an owner looks for in the file. The rejects file
(:func:`rejected`) is decided by these same functions, so it lists exactly the rows the job
failed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation

import attrs

from fitdata_core.model.imports import ImportEntity, RowProblem, Severity
from fitdata_core.money import Money
from fitdata_core.ports.providers import SourceLead, SourcePlan
from fitdata_core.rules.csv_mapping import MappedRecord, describe_fix
from fitdata_core.rules.csv_values import FixKind
from fitdata_core.rules.import_values import (
    LeadRecord,
    MemberRecord,
    PlanRecord,
    checked_member,
    lead_record,
    plan_record,
)

__all__ = [
    "INACTIVE_STATUSES",
    "csv_lead_record",
    "csv_member_record",
    "csv_plan_record",
    "rejected",
    "row_id",
]

#: Status cell values (compared case-folded, trimmed) that import a member as inactive; any
#: other value, or none, is active.
INACTIVE_STATUSES = frozenset(
    {
        *("inactive", "not active", "disabled", "cancelled", "canceled", "expired", "frozen"),
        *("former", "ended", "לא פעיל", "לא פעילה", "מבוטל", "מוקפא", "הסתיים", "לשעבר"),
    }
)

_PRICE_NOISE = re.compile(r"[\s,₪$€]|ILS|NIS|ש\"ח|ש״ח", re.IGNORECASE)


def row_id(record: MappedRecord) -> str:
    """How a CSV row is named in the job's problems: its spreadsheet row number."""
    return f"row {record.row}"


def _value_problems(record: MappedRecord, entity: ImportEntity) -> list[RowProblem]:
    email = record.values.get("email")
    return [
        RowProblem(
            entity, f"{p.column}: {p.reason}", Severity.ERROR, row_id(record), email, p.column
        )
        for p in record.problems
    ]


def _named(
    problems: Iterable[RowProblem], record: MappedRecord, entity: ImportEntity
) -> list[RowProblem]:
    # The value rules name a row by the source's external id; a CSV row goes by its number.
    # A value the CSV rules had to fix (Excel's lost leading zero...) counts as a warning.
    # Called once per row of the file: the common row (no problem, a fix or none) is cheap.
    source_id = row_id(record)
    named = [attrs.evolve(p, source_id=source_id) for p in problems] if problems else []
    if record.fixes:
        email = record.values.get("email")
        named += [
            RowProblem(
                entity,
                _fix_reason(column, kind),
                Severity.WARNING,
                source_id,
                email,
                column,
            )
            for column, kind in record.fixes
        ]
    return named


# Looked up once: reading an enum member costs about 0.3 µs on Python 3.11.
_MEMBERS = ImportEntity.MEMBERS
_WARNING = Severity.WARNING


@functools.lru_cache(maxsize=256)
def _fix_reason(column: str, kind: FixKind) -> str:
    # A file's columns and fix kinds are few; the warning's words are built once for each.
    return f"{column}: {describe_fix(kind)}."


def csv_member_record(
    record: MappedRecord, *, today: date
) -> tuple[MemberRecord | None, list[RowProblem]]:
    """The member to stage for ``record`` (None when the row fails) and its problems.

    The same rules as every source (:func:`~fitdata_core.rules.import_values.member_record`),
    given the row's values directly (:func:`~fitdata_core.rules.import_values.checked_member`)
    and its problems named by its row number from the start: this runs once per row of the
    file, and a ``SourceMember`` built only to be taken apart again, then each problem copied
    to rename its row, cost a third of the row's check.
    """
    if record.problems:
        return None, _value_problems(record, ImportEntity.MEMBERS)
    values = record.values
    get = values.get
    email = get("email")
    status = get("status")
    source_id = f"row {record.row}"  # row_id(record)
    found, problems = checked_member(  # positionally: see checked_member
        source_id,
        # Members are matched by email; as the external id it stays stable however the rows
        # of a re-exported file are ordered (an identical re-import changes nothing).
        "" if email is None else email.strip().lower(),
        email,
        get("firstName"),
        get("lastName"),
        get("phone"),
        status is None or status.strip().casefold() not in INACTIVE_STATUSES,  # active
        get("birthDate"),
        get("gender"),
        get("planName"),
        get("membershipStart"),
        get("membershipEnd"),
        today,
    )
    if record.fixes:
        # A value the CSV rules had to fix (Excel's lost leading zero...) counts as a warning.
        problems += [
            RowProblem(_MEMBERS, _fix_reason(column, kind), _WARNING, source_id, email, column)
            for column, kind in record.fixes
        ]
    return found, problems


def csv_lead_record(record: MappedRecord) -> tuple[LeadRecord | None, list[RowProblem]]:
    """The lead to stage for ``record`` (None when the row fails) and its problems: a lead
    needs an email or a phone."""
    problems = _value_problems(record, ImportEntity.LEADS)
    if problems:
        return None, [attrs.evolve(p, entity=ImportEntity.LEADS) for p in problems]
    values = record.values
    email = values.get("email")
    phone = values.get("phone")
    if not (email or phone):
        problem = RowProblem(
            ImportEntity.LEADS,
            "A lead needs an email address or a phone number.",
            Severity.ERROR,
            row_id(record),
            None,
            "email",
        )
        return None, [problem]
    lead = SourceLead(
        external_id=(email or phone or "").strip().lower(),
        email=email,
        first_name=values.get("firstName"),
        last_name=values.get("lastName"),
        phone=phone,
        status=values.get("status"),
        source="csv",
    )
    found, checked = lead_record(lead)
    return found, _named(checked, record, ImportEntity.LEADS)


def _number(value: str | None, cast: type[int] | type[Decimal]) -> int | Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(_PRICE_NOISE.sub("", value))
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not number.is_finite() or number < 0:
        raise ValueError(value)
    if cast is int:
        if number != number.to_integral_value():
            raise ValueError(value)
        return int(number)
    return number


def csv_plan_record(record: MappedRecord) -> tuple[PlanRecord | None, list[RowProblem]]:
    """The plan named on ``record`` (mapped with the plan fields), or None and why not. A row
    without a plan name is no plan (not a problem: most member rows repeat a plan or none)."""
    values = record.values
    name = values.get("name")
    if not name:
        return None, []
    problems: list[RowProblem] = []
    numbers: dict[str, int | Decimal | None] = {}
    for field, cast in (("price", Decimal), ("sessionCount", int), ("periodMonths", int)):
        try:
            numbers[field] = _number(values.get(field), cast)
        except ValueError:
            numbers[field] = None
            problems.append(
                RowProblem(
                    ImportEntity.PLANS,
                    f"Not a number for {field} ({values.get(field)!r}); plan {name!r} is"
                    " imported without it.",
                    Severity.WARNING,
                    row_id(record),
                    None,
                    field,
                )
            )
    price = numbers["price"]
    sessions = numbers["sessionCount"]
    months = numbers["periodMonths"]
    plan = SourcePlan(
        external_id=name.strip(),
        name=name,
        price=None if price is None else Money(Decimal(price)),
        session_count=None if sessions is None else int(sessions),
        period_months=None if months is None else int(months),
    )
    found, checked = plan_record(plan)
    return found, problems + _named(checked, record, ImportEntity.PLANS)


def rejected(record: MappedRecord, *, members: bool, leads: bool, today: date) -> list[RowProblem]:
    """The errors that failed ``record`` in a job importing ``members`` and/or ``leads`` (empty
    when the row landed): what the rejects file lists."""
    errors: list[RowProblem] = []
    if members:
        errors += csv_member_record(record, today=today)[1]
    if leads:
        errors += csv_lead_record(record)[1]
    seen: set[str] = set()
    unique = []
    for problem in errors:
        if problem.severity is Severity.ERROR and problem.reason not in seen:
            seen.add(problem.reason)
            unique.append(problem)
    return unique
