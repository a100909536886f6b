"""Ports to external providers: the payment gateway (Cardcom) and a member source (Arbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Protocol

import attrs

from fitdata_core.money import Money


@attrs.frozen
class CheckoutRequest:
    """A hosted payment page that charges once and keeps a token for renewals."""

    return_value: str
    amount: Money
    product_name: str
    payer_email: str | None = None


@attrs.frozen
class CheckoutPage:
    low_profile_id: str
    url: str


class PaymentResultStatus(StrEnum):
    COMPLETED = "completed"
    DECLINED = "declined"
    NOT_FINALISED = "not_finalised"


@attrs.frozen(repr=False)
class PaymentResult:
    """What the gateway says happened on a hosted page. ``card_token`` is a secret."""

    status: PaymentResultStatus
    low_profile_id: str
    return_value: str | None = None
    provider_transaction_id: str | None = None
    description: str | None = None
    card_token: str | None = None
    card_expiry_mmyy: str | None = None
    card_last4: str | None = None

    def __repr__(self) -> str:  # never print the token
        return (
            f"PaymentResult(status={self.status.value!r}, low_profile_id={self.low_profile_id!r},"
            f" provider_transaction_id={self.provider_transaction_id!r})"
        )


@attrs.frozen(repr=False)
class ChargeRequest:
    card_token: str
    card_expiry_mmyy: str | None
    amount: Money
    external_uniq_id: str
    description: str

    def __repr__(self) -> str:
        return f"ChargeRequest(external_uniq_id={self.external_uniq_id!r}, amount={self.amount})"


@attrs.frozen
class ChargeOutcome:
    completed: bool
    provider_transaction_id: str | None
    description: str | None


class PaymentGateway(Protocol):
    """A card gateway. API-level failures raise ``ProviderError``."""

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutPage: ...

    async def get_checkout_result(self, low_profile_id: str) -> PaymentResult: ...

    async def charge_token(self, request: ChargeRequest) -> ChargeOutcome:
        """Charge a saved token; idempotent on ``external_uniq_id`` (never charges twice)."""
        ...

    async def find_charge(self, external_uniq_id: str) -> ChargeOutcome | None:
        """Look up a charge by our idempotency key (after a timeout, say)."""
        ...


@attrs.frozen(repr=False)
class SourceCredentials:
    api_key: str | None = None
    email: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return "SourceCredentials(<redacted>)"


@attrs.frozen
class SourcePlan:
    external_id: str
    name: str
    price: Money | None = None
    session_count: int | None = None


@attrs.frozen
class SourceMember:
    external_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    active: bool = True
    birth_date: str | None = None
    gender: str | None = None


class MemberSource(Protocol):
    """A competitor's system members are imported from. Auth failures raise ProviderAuthError."""

    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]: ...

    def fetch_members(self, credentials: SourceCredentials) -> AsyncIterator[SourceMember]: ...
