"""Test cards and the sandbox's approve/decline rules.

Magic card numbers (all pass the Luhn check):

- ``4580280000000008``: Cardcom's Israeli test card. Approves below 5000.
- ``4580000000000000``: Cardcom's foreign test card. Approves below 5000.
- ``4000000000000002``: always declined (SHVA 001, blocked card).
- ``4000000000000341``: the hosted-page payment succeeds and a token is created, but every
  later charge of that token is declined (SHVA 003).

Any amount ≥ 5000 is declined, as on Cardcom's test terminal. Any other Luhn-valid card with
a future expiry approves.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs

from fitdata_adapters.cardcom_sandbox import codes

TEST_CARD = "4580280000000008"
FOREIGN_TEST_CARD = "4580000000000000"
ALWAYS_DECLINED_CARD = "4000000000000002"
TOKEN_DECLINES_LATER_CARD = "4000000000000341"  # noqa: S105 (a public test card)

#: Cardcom's test rule: amount < 5000 succeeds, ≥ 5000 fails.
DECLINE_AMOUNT_THRESHOLD = Decimal(5000)


class CardInputError(ValueError):
    """The payer typed something a payment page would refuse; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@attrs.frozen(repr=False)
class Card:
    """A card as typed on the hosted page. ``year`` has four digits."""

    number: str
    month: int
    year: int

    def __repr__(self) -> str:
        return f"Card(last4={self.last4!r})"

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def first6(self) -> int:
        return int(self.number[:6])

    @property
    def brand(self) -> str:
        if self.number.startswith("4"):
            return "Visa"
        if self.number[:2] in {"51", "52", "53", "54", "55"}:
            return "MasterCard"
        if self.number[:2] in {"34", "37"}:
            return "AmericanExpress"
        return "PrivateCard"

    @property
    def is_abroad(self) -> bool:
        return self.number == FOREIGN_TEST_CARD

    @property
    def expiry_mmyy(self) -> str:
        return f"{self.month:02d}{self.year % 100:02d}"


@attrs.frozen
class Decline:
    code: int
    description: str


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def parse_expiry(text: str) -> tuple[int, int]:
    """``MM/YY``, ``MMYY``, ``MM/YYYY`` → (month, 4-digit year)."""
    cleaned = text.strip().replace(" ", "").replace("-", "/")
    if "/" in cleaned:
        month_text, _, year_text = cleaned.partition("/")
    elif len(cleaned) in (4, 6):
        month_text, year_text = cleaned[:2], cleaned[2:]
    else:
        raise CardInputError("card_expiry", "Expiry must look like MM/YY")
    if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)):
        raise CardInputError("card_expiry", "Expiry must look like MM/YY")
    month, year = int(month_text), int(year_text)
    if len(year_text) == 2:
        year += 2000
    if not 1 <= month <= 12:
        raise CardInputError("card_expiry", "Expiry month must be 01-12")
    return month, year


def is_expired(month: int, year: int, today: date) -> bool:
    return (year, month) < (today.year, today.month)


def parse_card(number: str, expiry: str, cvv: str, *, today: date) -> Card:
    """Validate what a payer typed, as the hosted page would."""
    digits = "".join(number.split()).replace("-", "")
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        raise CardInputError("card_number", "Card number is not valid")
    month, year = parse_expiry(expiry)
    if is_expired(month, year, today):
        raise CardInputError("card_expiry", "Card has expired")
    cvv = cvv.strip()
    if not cvv.isdigit() or len(cvv) not in (3, 4):
        raise CardInputError("cvv", "CVV must be 3 or 4 digits")
    return Card(number=digits, month=month, year=year)


def amount_decline(amount: Decimal) -> Decline | None:
    if amount >= DECLINE_AMOUNT_THRESHOLD:
        return Decline(
            codes.DECLINE_NOT_APPROVED, "Not approved (test terminal: amount of 5000 or more)"
        )
    return None


def page_decline(card: Card, amount: Decimal) -> Decline | None:
    """Why a hosted-page payment is declined, or ``None`` when it is approved."""
    if card.number == ALWAYS_DECLINED_CARD:
        return Decline(codes.DECLINE_BLOCKED_CARD, "Blocked card (test card 4000000000000002)")
    return amount_decline(amount)


def token_charge_decline(
    card: Card, amount: Decimal, expiry_mmyy: str, *, today: date
) -> Decline | None:
    """Why charging a saved card's token is declined, or ``None`` when it is approved."""
    if card.number == TOKEN_DECLINES_LATER_CARD:
        return Decline(
            codes.DECLINE_NOT_APPROVED, "Not approved (test card 4000000000000341 token)"
        )
    if expiry_mmyy != card.expiry_mmyy or is_expired(card.month, card.year, today):
        return Decline(codes.DECLINE_EXPIRED, "Expired card or wrong expiry date")
    return amount_decline(amount)
