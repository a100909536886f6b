"""Ports to external providers: the payment gateway (Cardcom) and a member source (Arbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Protocol

import attrs

from fitdata_core.money import Money

__all__ = [
    "ChargeOutcome",
    "ChargeRequest",
    "CheckoutPage",
    "CheckoutRequest",
    "MemberSource",
    "PaymentGateway",
    "PaymentResult",
    "PaymentResultStatus",
    "SourceCredentials",
    "SourceLead",
    "SourceMember",
    "SourceMemberDetail",
    "SourcePlan",
]


@attrs.frozen
class CheckoutRequest:
    """A hosted payment page that charges once and keeps a token for renewals."""

    return_value: str
    amount: Money
    product_name: str
    payer_email: str | None = None


@attrs.frozen
class CheckoutPage:
    """A hosted payment page the payer is sent to."""

    low_profile_id: str
    url: str


class PaymentResultStatus(StrEnum):
    """What the gateway says of a checkout: completed, declined, or not finalised yet."""

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
    """A charge of a stored card token (a renewal), with its idempotency key."""

    card_token: str
    card_expiry_mmyy: str | None
    amount: Money
    external_uniq_id: str
    description: str

    def __repr__(self) -> str:
        return f"ChargeRequest(external_uniq_id={self.external_uniq_id!r}, amount={self.amount})"


@attrs.frozen
class ChargeOutcome:
    """What became of a token charge."""

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
    """How to reach a member source. Arbox: an API key (Business API), an email and password
    (Management API), or both. Every field is a secret; ``repr`` shows none of them."""

    api_key: str | None = None
    email: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return "SourceCredentials(<redacted>)"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    @property
    def has_management_login(self) -> bool:
        return bool(self.email and self.password)


# Source records carry the source's values as given (strings, trimmed of nothing): the import
# engine validates and normalises them with the same rules for every source (Arbox, CSV), so
# a bad value becomes a row error in the job's report, never an exception in the adapter.
# Adapters only undo wire quirks (e.g. Arbox's "0000-00-00" birthday means no birthday).


@attrs.frozen
class SourcePlan:
    """A plan (membership type) as the source describes it. Plans are matched by name."""

    external_id: str
    name: str
    price: Money | None = None
    session_count: int | None = None  # None: unlimited
    period_months: int | None = None


@attrs.frozen
class SourceMember:
    """One member as the source describes them.

    ``active`` is the member's status at the source (Arbox: which report or list they came
    from; active wins when they are in both). ``plan_name`` links the membership to the org's
    plan of that name. Dates are ISO ``YYYY-MM-DD`` strings when the source gives them.
    """

    external_id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    active: bool = True
    birth_date: str | None = None
    gender: str | None = None
    plan_name: str | None = None
    membership_start: str | None = None
    membership_end: str | None = None


@attrs.frozen
class SourceMemberDetail:
    """The fields of one member that only the per-member call gives (Arbox ``users/{id}``);
    the enrichment phase fills the profile with them, never overwriting a stored value."""

    external_id: str
    additional_phone: str | None = None
    personal_id: str | None = None
    address: str | None = None
    city: str | None = None
    zip_code: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_phone: str | None = None
    medical_notes: str | None = None


@attrs.frozen
class SourceLead:
    """A prospect at the source. Matched by email, or by phone when there is no email."""

    external_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    status: str | None = None
    source: str | None = None
    created_at: str | None = None  # as the source gives it (Arbox: local Israel time)


class MemberSource(Protocol):
    """A competitor's system members are imported from (Arbox).

    Every call raises ``ProviderAuthError`` when the source refuses the credentials and
    ``ProviderError`` when it fails after the adapter's own retries. Listings come in pages
    (lists), so an engine can checkpoint between them and memory stays flat.
    """

    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]: ...

    def fetch_members(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceMember]]:
        """Every member, active and inactive where the source has both, each once."""
        ...

    def fetch_leads(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceLead]]: ...

    async def fetch_member_detail(
        self, credentials: SourceCredentials, external_id: str
    ) -> SourceMemberDetail | None:
        """One member's detail (needs an API key); None when the source does not know them."""
        ...
