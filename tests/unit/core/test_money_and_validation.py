"""Money and the input normalisers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.money import Money
from fitdata_core.rules.validation import validate_email, validate_phone


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
