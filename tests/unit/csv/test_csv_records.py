"""CSV rows to staged records: the same value rules as every source, rows named by number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.model.imports import ImportEntity, RowProblem, Severity
from fitdata_core.model.organizations import MembershipStatus
from fitdata_core.ports.providers import SourceMember
from fitdata_core.rules.csv_mapping import MappedRecord, ValueProblem, describe_fix
from fitdata_core.rules.csv_records import (
    INACTIVE_STATUSES,
    csv_lead_record,
    csv_member_record,
    csv_plan_record,
    rejected,
)
from fitdata_core.rules.csv_values import FixKind
from fitdata_core.rules.import_values import member_record

TODAY = date(2026, 12, 2)


def row(values: dict[str, str], **extra: object) -> MappedRecord:
    return MappedRecord(7, values, list(values.values()), **extra)  # type: ignore[arg-type]


def test_a_good_member_row_is_normalised_and_keyed_by_email() -> None:
    record, problems = csv_member_record(
        row({"email": " Dana@Example.COM ", "firstName": " דנה ", "phone": "0541234567"}),
        today=TODAY,
    )
    assert problems == []
    assert record is not None
    assert (record.email, record.external_id) == ("dana@example.com", "dana@example.com")
    assert (record.first_name, record.phone) == ("דנה", "+972541234567")
    assert record.status is MembershipStatus.ACTIVE


def test_an_inactive_status_imports_the_member_inactive() -> None:
    for status in ("Inactive", "לא פעיל", " frozen "):
        record, _ = csv_member_record(row({"email": "a@b.co", "status": status}), today=TODAY)
        assert record is not None
        assert record.status is MembershipStatus.INACTIVE


def test_an_unusable_value_fails_the_row_with_its_column_and_reason() -> None:
    bad = row(
        {"email": "a@b.co"},
        problems=(ValueProblem("Birthday", "birthDate", "not a date: '31/31/1990'"),),
    )
    record, problems = csv_member_record(bad, today=TODAY)
    assert record is None
    assert [(p.severity, p.source_id, p.field, p.reason) for p in problems] == [
        (Severity.ERROR, "row 7", "Birthday", "Birthday: not a date: '31/31/1990'")
    ]
    assert rejected(bad, members=True, leads=False, today=TODAY) == problems


def test_a_bad_email_fails_the_row_named_by_its_number() -> None:
    record, problems = csv_member_record(row({"email": "nope"}), today=TODAY)
    assert record is None
    assert [(p.source_id, p.field) for p in problems] == [("row 7", "email")]


def test_a_fixed_value_lands_with_a_warning() -> None:
    fixed = row(
        {"email": "a@b.co", "phone": "0541234567"}, fixes=(("Phone", FixKind.PHONE_LEADING_ZERO),)
    )
    record, problems = csv_member_record(fixed, today=TODAY)
    assert record is not None
    assert [(p.severity, p.reason) for p in problems] == [
        (Severity.WARNING, "Phone: restored the leading zero Excel dropped.")
    ]
    assert rejected(fixed, members=True, leads=False, today=TODAY) == []


def test_a_lead_needs_an_email_or_a_phone() -> None:
    record, problems = csv_lead_record(row({"firstName": "Avi"}))
    assert record is None
    assert [(p.entity, p.reason) for p in problems] == [
        (ImportEntity.LEADS, "A lead needs an email address or a phone number.")
    ]
    by_phone, _ = csv_lead_record(row({"phone": "0541234567"}))
    assert by_phone is not None
    assert (by_phone.phone, by_phone.source) == ("+972541234567", "csv")


def test_plans_read_prices_with_currency_marks_and_count_bad_numbers_as_warnings() -> None:
    plan, problems = csv_plan_record(
        row({"name": "Monthly", "price": "₪1,250.50", "sessionCount": "12", "periodMonths": "x"})
    )
    assert plan is not None
    assert plan.price is not None
    assert (plan.price.amount, plan.session_count, plan.validity_days) == (
        Decimal("1250.50"),
        12,
        None,
    )
    assert [(p.severity, p.field) for p in problems] == [(Severity.WARNING, "periodMonths")]
    assert csv_plan_record(row({"price": "10"})) == (None, [])


@given(st.text(max_size=30))
def test_a_row_is_rejected_exactly_when_its_member_record_fails(email: str) -> None:
    record = row({"email": email})
    member, _ = csv_member_record(record, today=TODAY)
    assert (member is None) == bool(rejected(record, members=True, leads=False, today=TODAY))


def _general_path(record: MappedRecord) -> tuple[object, list[RowProblem]]:
    """A CSV member row the way every other source goes: a ``SourceMember`` through
    ``member_record``, each problem renamed to the row, then a warning per CSV fix."""
    values = record.values
    member = SourceMember(
        external_id=values.get("email", "").strip().lower(),
        email=values.get("email"),
        first_name=values.get("firstName"),
        last_name=values.get("lastName"),
        phone=values.get("phone"),
        active=values.get("status", "").strip().casefold() not in INACTIVE_STATUSES,
        birth_date=values.get("birthDate"),
        gender=values.get("gender"),
        plan_name=values.get("planName"),
        membership_start=values.get("membershipStart"),
        membership_end=values.get("membershipEnd"),
    )
    found, problems = member_record(member, today=TODAY)
    named = [attrs.evolve(p, source_id=f"row {record.row}") for p in problems]
    named += [
        RowProblem(
            ImportEntity.MEMBERS,
            f"{column}: {describe_fix(kind)}.",
            Severity.WARNING,
            f"row {record.row}",
            values.get("email"),
            column,
        )
        for column, kind in record.fixes
    ]
    return found, named


_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["Dana", " Noa  Levi ", "נקבה", "F", "robot", "inactive", " FROZEN "]),
    st.sampled_from(["1990-05-05", "2020-01-31 00:00", "2030-01-01", "1990-13-01", "x"]),
    st.sampled_from(["0521234567", "+972 52-123-4567", "03-6123456", "+1 212 555 0100", "5"]),
    st.sampled_from(["a@gym.io", " Dana@Gym.IO ", "bad@@x", "q@test", "a@x--y.com", "é@x.io"]),
)
_MEMBER_KEYS = (
    *("email", "firstName", "lastName", "phone", "status", "birthDate", "gender"),
    *("planName", "membershipStart", "membershipEnd"),
)


@given(
    st.dictionaries(st.sampled_from(_MEMBER_KEYS), _CELL),
    st.lists(st.tuples(st.sampled_from(["Phone", "Birthday"]), st.sampled_from(list(FixKind)))),
    st.integers(min_value=2, max_value=10**6),
)
def test_a_csv_member_row_is_checked_exactly_as_the_general_path_checks_it(
    values: dict[str, str], fixes: list[tuple[str, FixKind]], number: int
) -> None:
    # The CSV path hands the row's values to the rules directly and names its problems by
    # row number from the start; the outcome must be the general path's, field for field.
    record = MappedRecord(number, values, list(values.values()), tuple(fixes))
    assert csv_member_record(record, today=TODAY) == _general_path(record)
