"""The sandbox's test-card rules (pure functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fitdata_adapters.cardcom_sandbox.cards import (
    ALWAYS_DECLINED_CARD,
    FOREIGN_TEST_CARD,
    TEST_CARD,
    TOKEN_DECLINES_LATER_CARD,
    CardInputError,
    page_decline,
    parse_card,
    token_charge_decline,
)

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    "number", [TEST_CARD, FOREIGN_TEST_CARD, ALWAYS_DECLINED_CARD, TOKEN_DECLINES_LATER_CARD]
)
def test_magic_cards_are_valid_card_numbers(number: str) -> None:
    card = parse_card(number, "12/27", "123", today=TODAY)

    assert card.number == number
    assert (card.month, card.year) == (12, 2027)
    assert card.expiry_mmyy == "1227"


@pytest.mark.parametrize(
    ("number", "expiry", "cvv", "field"),
    [
        ("4580280000000009", "12/27", "123", "card_number"),
        ("4580", "12/27", "123", "card_number"),
        (TEST_CARD, "13/27", "123", "card_expiry"),
        (TEST_CARD, "05/26", "123", "card_expiry"),
        (TEST_CARD, "soon", "123", "card_expiry"),
        (TEST_CARD, "12/27", "12", "cvv"),
    ],
)
def test_bad_input_names_the_field(number: str, expiry: str, cvv: str, field: str) -> None:
    with pytest.raises(CardInputError) as caught:
        parse_card(number, expiry, cvv, today=TODAY)

    assert caught.value.field == field


def test_page_rules() -> None:
    good = parse_card(TEST_CARD, "0628", "123", today=TODAY)
    blocked = parse_card(ALWAYS_DECLINED_CARD, "06/2028", "123", today=TODAY)

    assert page_decline(good, Decimal("4999.99")) is None
    assert page_decline(good, Decimal(5000)) is not None
    assert page_decline(blocked, Decimal(1)) is not None


def test_token_rules() -> None:
    good = parse_card(TEST_CARD, "06/28", "123", today=TODAY)
    later = parse_card(TOKEN_DECLINES_LATER_CARD, "06/28", "123", today=TODAY)

    assert page_decline(later, Decimal(10)) is None
    assert token_charge_decline(good, Decimal(10), "0628", today=TODAY) is None
    assert token_charge_decline(later, Decimal(10), "0628", today=TODAY) is not None
    assert token_charge_decline(good, Decimal(10), "0728", today=TODAY) is not None
    assert token_charge_decline(good, Decimal(5000), "0628", today=TODAY) is not None
    assert token_charge_decline(good, Decimal(10), "0628", today=date(2028, 7, 1)) is not None
