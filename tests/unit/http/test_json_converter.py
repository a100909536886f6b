"""The one cattrs converter: camelCase, UTC datetimes, decimals as strings, strict input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_adapters.converter import (
    FieldError,
    InvalidFields,
    structure,
    to_camel,
    unstructure,
)
from fitdata_core.errors import InvalidInput
from fitdata_core.model.catalog import Plan, PlanKind
from fitdata_core.model.organizations import Membership, MembershipStatus, Role
from fitdata_core.money import Money

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


class Colour(StrEnum):
    RED = "red"
    DARK_BLUE = "dark_blue"


@attrs.frozen
class Inner:
    label: str
    valid_until: date | None = None


@attrs.frozen
class Outer:
    display_name: str
    colour: Colour
    unit_price: Decimal
    seat_count: int
    is_public: bool
    starts_at: datetime
    inners: list[Inner] = attrs.field(factory=list)
    note: str | None = None


def test_to_camel() -> None:
    assert to_camel("session_count") == "sessionCount"
    assert to_camel("id") == "id"
    assert to_camel("_private_thing") == "privateThing"
    assert to_camel("a_b_c") == "aBC"


def test_domain_objects_unstructure_with_camel_case_and_json_types() -> None:
    plan = Plan(
        id="p1",
        organization_id="o1",
        name="10 classes",
        kind=PlanKind.CLASS_PACK,
        price=Money(Decimal("500")),
        created_at=T0,
        session_count=10,
    )

    assert unstructure(plan) == {
        "id": "p1",
        "organizationId": "o1",
        "name": "10 classes",
        "kind": "class_pack",
        "price": {"amount": "500.00", "currency": "ILS"},
        "createdAt": "2026-03-01T08:00:00.123456Z",
        "sessionCount": 10,
        "validityDays": None,
        "isActive": True,
        "externalId": None,
    }
    assert type(unstructure(plan)["kind"]) is str


def test_datetimes_are_rendered_in_utc() -> None:
    israel = timezone(timedelta(hours=2))
    membership = Membership(
        id="m",
        organization_id="o",
        user_id="u",
        role=Role.COACH,
        status=MembershipStatus.ACTIVE,
        created_at=datetime(2026, 3, 1, 10, 0, tzinfo=israel),
    )
    assert unstructure(membership)["createdAt"] == "2026-03-01T08:00:00Z"


def test_naive_datetimes_are_a_bug_not_a_guess() -> None:
    with pytest.raises(ValueError, match="naive"):
        unstructure(datetime(2026, 1, 1))


def test_structure_round_trips_domain_objects() -> None:
    plan = Plan(
        id="p1",
        organization_id="o1",
        name="Monthly",
        kind=PlanKind.MEMBERSHIP,
        price=Money(Decimal("249.90"), "USD"),
        created_at=T0,
        validity_days=30,
    )
    assert structure(unstructure(plan), Plan) == plan


def test_structure_reads_camel_case_and_converts_values() -> None:
    outer = structure(
        {
            "displayName": "Main",
            "colour": "dark_blue",
            "unitPrice": 19.9,
            "seatCount": 3,
            "isPublic": False,
            "startsAt": "2026-03-01T10:00:00+02:00",
            "inners": [{"label": "a", "validUntil": "2026-12-31"}],
        },
        Outer,
    )

    assert outer.colour is Colour.DARK_BLUE
    assert outer.unit_price == Decimal("19.9")  # via str(), not the float's binary value
    assert outer.starts_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert outer.starts_at.tzinfo is UTC
    assert outer.inners == [Inner("a", date(2026, 12, 31))]


def test_structure_is_strict_and_names_every_bad_field() -> None:
    with pytest.raises(InvalidFields) as caught:
        structure(
            {
                "colour": "green",
                "unitPrice": "NaN",
                "seatCount": 2.5,
                "isPublic": "yes",
                "startsAt": "2026-03-01T10:00:00",
                "inners": [{"label": "ok"}, {"label": 7}, "x"],
                "nickName": "extra",
            },
            Outer,
        )

    assert caught.value.errors == [
        FieldError("displayName", "is required"),
        FieldError("colour", '"green" is not one of: red, dark_blue'),
        FieldError(
            "unitPrice",
            "must be a number written with the digits 0-9 and an optional dot, got 'NaN'",
        ),
        FieldError("seatCount", "must be a whole number, got a number"),
        FieldError("isPublic", "must be true or false, got a string"),
        FieldError(
            "startsAt",
            "must include a timezone (e.g. a trailing Z), got '2026-03-01T10:00:00'",
        ),
        FieldError("inners[1].label", "must be a string, got a number"),
        FieldError("inners[2]", "must be an object"),
        FieldError("nickName", "is not a known field"),
    ]
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "displayName"


@pytest.mark.parametrize(
    ("data", "shown"), [([1], "an array"), ("x", "a string"), (None, "null"), (3, "a number")]
)
def test_a_body_that_is_not_an_object_is_refused(data: object, shown: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        structure(data, Inner)
    assert caught.value.errors == [FieldError("", f"must be a JSON object, got {shown}")]
    assert caught.value.field is None


def test_booleans_are_not_numbers() -> None:
    assert structure({"label": "a", "validUntil": None}, Inner) == Inner("a")
    with pytest.raises(InvalidFields) as caught:
        structure(
            {
                "displayName": "x",
                "colour": "red",
                "unitPrice": True,
                "seatCount": True,
                "isPublic": True,
                "startsAt": "2026-01-01T00:00:00Z",
            },
            Outer,
        )
    assert [e.field for e in caught.value.errors] == ["unitPrice", "seatCount"]


@given(
    amount=st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
    currency=st.sampled_from(["ILS", "USD", "EUR"]),
)
def test_money_round_trips_exactly(amount: Decimal, currency: str) -> None:
    money = Money(amount, currency)
    data = unstructure(money)

    assert data == {"amount": str(money.amount), "currency": currency}
    assert structure(data, Money) == money


@given(st.datetimes(timezones=st.just(UTC)))
def test_utc_datetimes_round_trip(moment: datetime) -> None:
    assert (
        structure(
            {
                "displayName": "x",
                "colour": "red",
                "unitPrice": "1",
                "seatCount": 1,
                "isPublic": True,
                "startsAt": unstructure(moment),
            },
            Outer,
        ).starts_at
        == moment
    )


@attrs.frozen
class _Tags:
    tags: list[str] | None = None


@pytest.mark.parametrize(
    ("value", "shown"), [("member", "a string"), ({"a": 1}, "an object"), (3, "a number")]
)
def test_a_list_field_takes_an_array_only(value: object, shown: str) -> None:
    # cattrs alone would take a string as its characters and an object as its keys.
    with pytest.raises(InvalidFields) as raised:
        structure({"tags": value}, _Tags)

    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("tags", f"must be an array, got {shown}")
    ]
    assert structure({"tags": ["a", "b"]}, _Tags) == _Tags(["a", "b"])


@pytest.mark.parametrize(
    ("written", "expected"),
    [(Decimal("3"), 3), (Decimal("3.0"), 3), (Decimal("3E+2"), 300), (7, 7)],
)
def test_an_integral_json_number_is_an_integer(written: Decimal | int, expected: int) -> None:
    # JSON has one number type; JSON Schema's "integer" admits 3.0, so the server does too.
    body = {
        "displayName": "x",
        "colour": "red",
        "unitPrice": "1",
        "seatCount": written,
        "isPublic": True,
        "startsAt": "2026-03-01T10:00:00Z",
    }

    assert structure(body, Outer).seat_count == expected


@pytest.mark.parametrize("written", [Decimal("2.5"), Decimal("NaN"), Decimal("Infinity"), True])
def test_a_fraction_or_a_non_number_is_not_an_integer(written: object) -> None:
    body = {
        "displayName": "x",
        "colour": "red",
        "unitPrice": "1",
        "seatCount": written,
        "isPublic": True,
        "startsAt": "2026-03-01T10:00:00Z",
    }

    with pytest.raises(InvalidFields) as caught:
        structure(body, Outer)
    assert caught.value.errors[0].field == "seatCount"
