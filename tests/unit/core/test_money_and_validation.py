"""Money and the input normalisers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.money import AmountError, Money, exact_amount
from fitdata_core.rules.validation import validate_email, validate_phone
from fitdata_core.usecases.catalog import parse_price


def test_money_rounds_to_agorot() -> None:
    assert Money(Decimal("249")).amount == Decimal("249.00")
    assert Money("10.005").amount == Decimal("10.01")


def test_money_refuses_non_finite_amounts() -> None:
    with pytest.raises(ValueError, match="finite"):
        Money(Decimal("NaN"))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1e9, max_value=1e9))
def test_money_keeps_two_place_amounts_exactly(amount: Decimal) -> None:
    assert Money(amount).amount == amount


def test_email_is_normalised_to_lower_case() -> None:
    assert validate_email("  Dana.Levi@Example.COM ") == "dana.levi@example.com"


def test_bad_email_names_the_field() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_email("not-an-email", field="ownerEmail")
    assert excinfo.value.field == "ownerEmail"
    assert "ownerEmail" in str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("054-123-4567", "+972541234567"),
        ("+972 54 123 4567", "+972541234567"),
        ("+1 (212) 555-0100", "+12125550100"),
    ],
)
def test_phone_numbers_become_e164(raw: str, e164: str) -> None:
    assert validate_phone(raw) == e164


@pytest.mark.parametrize("raw", ["hello", "12"])
def test_bad_phone_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_phone(raw)
    assert excinfo.value.field == "phone"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("249", "249.00"), (0, "0.00"), ("9999999999.99", "9999999999.99"), ("12.5", "12.50")],
)
def test_a_price_is_kept_exactly(given: str | int, expected: str) -> None:
    assert str(parse_price(given).amount) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("0.001", "at most 2 decimal places"),
        ("-1", "must not be negative"),
        ("10000000000", "at most 9999999999.99"),
        (Decimal("1e40"), "at most 9999999999.99"),
        ("NaN", "must be a number"),
        ("Infinity", "must be a number"),
        ("twelve", "must be a number"),
    ],
)
def test_a_price_the_catalog_cannot_hold_is_refused_naming_price(
    given: str | Decimal, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_price(given)
    assert caught.value.field == "price"
    assert says in caught.value.message


@pytest.mark.parametrize(
    "given",
    [" 5 ", "5 ", "1_000", "\u0665", "\u0661\u0662\u0663", "1e3", "+5", "5.", ".5", "1,000", ""],
)
def test_a_price_is_ascii_digits_with_an_optional_dot_nothing_else(given: str) -> None:
    # Decimal() takes every one of these (spaces, underscores, Arabic-Indic digits...).
    with pytest.raises(InvalidInput) as caught:
        parse_price(given)
    assert caught.value.field == "price"
    assert caught.value.message == (
        "price must be a number written as digits 0-9 with an optional dot and at most 2 "
        f"decimals, such as 249 or 249.90; got {given!r}."
    )


@pytest.mark.parametrize("given", [Decimal("1e-400"), Decimal("0.001"), Decimal("1E-3")])
def test_a_tiny_price_is_refused_not_rounded_to_zero(given: Decimal) -> None:
    with pytest.raises(InvalidInput, match="at most 2 decimal places"):
        parse_price(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("249.90", "249.90"), (Decimal("1E+2"), "1E+2"), (7, "7"), (Decimal("249.900"), "249.900")],
)
def test_an_exact_amount_keeps_its_value(given: str | int | Decimal, expected: str) -> None:
    assert str(exact_amount(given)) == expected


@pytest.mark.parametrize(
    "given", ["249.999", Decimal("1e-400"), " 5 ", "1_000", "\u0665", "-1", Decimal("NaN"), 1.5]
)
def test_an_amount_that_is_not_exact_is_refused(given: object) -> None:
    with pytest.raises(AmountError):
        exact_amount(given)  # type: ignore[arg-type]
