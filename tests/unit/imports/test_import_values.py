"""The import value rules: fast paths agree with the general validators, and each rule."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.model.imports import Severity
from fitdata_core.model.organizations import MembershipStatus
from fitdata_core.ports.providers import SourceLead, SourceMember
from fitdata_core.rules.import_values import (
    MemberRecord,
    import_email,
    import_phone,
    lead_record,
    member_record,
)
from fitdata_core.rules.validation import validate_email, validate_phone

_LOCAL = st.text(alphabet="abcXYZ019._%+-!#'", min_size=1, max_size=12)
_LABEL = st.text(alphabet="abz09-", min_size=1, max_size=8)
_TLD = st.sampled_from(["com", "io", "co", "il", "test", "local", "x", "example", "c0m"])


def _outcome(check: object, value: str) -> str:
    try:
        return str(check(value))  # type: ignore[operator]
    except InvalidInput:
        return "invalid"


@given(_LOCAL, st.lists(_LABEL, min_size=1, max_size=3), _TLD)
@example("a..b", ["gym"], "com")
@example(".a", ["gym"], "com")
@example("a", ["-gym"], "com")
@example("a", ["ab--cd"], "com")
def test_the_email_fast_path_agrees_with_email_validator(
    local: str, labels: list[str], tld: str
) -> None:
    value = f"{local}@{'.'.join(labels)}.{tld}"
    assert _outcome(import_email, value) == _outcome(validate_email, value)


@given(
    st.sampled_from(["", "0", "+972", "972", "+972 ", "00972"]),
    st.text(alphabet="0123456789- ()", min_size=0, max_size=12),
)
@example("0", "54-1234567")
@example("+972", "541234567")
@example("", "0541234567")
def test_the_phone_fast_path_agrees_with_phonenumbers(prefix: str, rest: str) -> None:
    value = prefix + rest
    assert _outcome(import_phone, value) == _outcome(validate_phone, value)


@given(
    st.sampled_from(["0", "+972", "972", "+972 ", "+972-", "0-", "(0", "+9720", "00972"]),
    st.sampled_from("0123456789"),
    st.lists(st.sampled_from("0123456789"), min_size=6, max_size=9),
    st.sampled_from(["", "-", " ", ") "]),
)
@example("0", "2", list("1234567"), "-")  # a Jerusalem landline, 02-1234567
@example("+972", "3", list("6123456"), " ")  # Tel Aviv with the country code
@example("0", "7", list("71234567"), "-")  # VoIP, 077-1234567
@example("972", "2", list("45031762"), "")  # phonenumbers keeps this 972 as digits
def test_the_phone_fast_path_agrees_with_phonenumbers_on_landline_shapes(
    prefix: str, first: str, rest: list[str], separator: str
) -> None:
    # Every area code and length around the 8- and 9-digit national numbers, with the
    # punctuation people type after the area code.
    value = f"{prefix}{first}{separator}{''.join(rest)}"
    assert _outcome(import_phone, value) == _outcome(validate_phone, value)


def test_member_rules() -> None:
    today = date(2026, 1, 15)
    record, problems = member_record(
        SourceMember(
            external_id="7",
            email="  Dana@Gym.IO ",
            first_name="  Dana  ",
            phone="not a phone",
            active=True,
            birth_date="1990-13-01",
            gender="נקבה",
            membership_end="2025-12-31",
        ),
        today=today,
    )
    assert record is not None
    assert (record.email, record.first_name, record.phone, record.gender) == (
        "dana@gym.io",
        "Dana",
        None,
        "female",
    )
    assert record.status is MembershipStatus.ACTIVE
    assert record.end_date == "2025-12-31"
    assert sorted((p.field, p.severity) for p in problems) == [
        ("birth_date", Severity.WARNING),
        ("membership_end", Severity.WARNING),
        ("phone", Severity.WARNING),
    ]
    missing, problems = member_record(SourceMember(external_id="8", email=" "), today=today)
    assert missing is None
    assert [(p.field, p.severity, p.source_id) for p in problems] == [
        ("email", Severity.ERROR, "8")
    ]
    inactive, _ = member_record(
        SourceMember(external_id="9", email="a@b.io", active=False), today=today
    )
    assert inactive is not None
    assert inactive.status is MembershipStatus.INACTIVE


@pytest.mark.parametrize(
    ("lead", "ok"),
    [
        (SourceLead(external_id="1", email="x@y.io"), True),
        (SourceLead(external_id="2", phone="054-7654321"), True),
        (SourceLead(external_id="3"), False),
        (SourceLead(external_id="4", email="bad@@y.io", phone="054-7654321"), False),
    ],
)
def test_lead_rules(lead: SourceLead, ok: bool) -> None:
    record, problems = lead_record(lead)
    assert (record is not None) is ok
    assert bool(problems) is not ok


_TEXT = st.none() | st.text(max_size=6)


@given(
    record=st.builds(
        MemberRecord,
        external_id=st.text(max_size=6),
        email=st.text(max_size=6),
        first_name=_TEXT,
        last_name=_TEXT,
        phone=_TEXT,
        status=st.sampled_from(list(MembershipStatus)),
        birth_date=_TEXT,
        gender=_TEXT,
        plan_name=_TEXT,
        start_date=_TEXT,
        end_date=_TEXT,
    )
)
def test_a_member_record_stages_every_field_and_reads_back_the_same(record: MemberRecord) -> None:
    data = record.to_dict()
    assert data == {**record._asdict(), "status": record.status.value}
    assert type(data["status"]) is str  # the plain value, not the enum, goes to staging
    assert MemberRecord.from_dict(data) == record
    # Its columns, as a store keeping a field a column stages them: the dict's values, in order.
    assert record.columns() == tuple(data.values())
    assert type(record.columns()[5]) is str


def test_a_date_seen_before_is_judged_again_for_each_row() -> None:
    # Dates are cached by value: a bad one must still warn on every row that holds it, and a
    # good one come back the same, with or without blanks around it.
    today = date(2026, 1, 15)
    for external_id in ("1", "2"):
        record, problems = member_record(
            SourceMember(
                external_id=external_id,
                email="a@b.io",
                birth_date="1990-13-01",
                membership_start=" 2024-01-31 00:00:00 ",
            ),
            today=today,
        )
        assert record is not None
        assert (record.birth_date, record.start_date) == (None, "2024-01-31")
        assert [(p.field, p.source_id, p.reason) for p in problems] == [
            (
                "birth_date",
                external_id,
                "Not a date YYYY-MM-DD ('1990-13-01'); imported without it.",
            )
        ]
