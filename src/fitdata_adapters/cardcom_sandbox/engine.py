"""The sandbox's behaviour, independent of HTTP: what each v11 call and each payment does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from fitdata_adapters.cardcom_sandbox import codes, validation
from fitdata_adapters.cardcom_sandbox.cards import (
    Card,
    page_decline,
    token_charge_decline,
)
from fitdata_adapters.cardcom_sandbox.config import SandboxConfig
from fitdata_adapters.cardcom_sandbox.persistence import StateFile
from fitdata_adapters.cardcom_sandbox.shapes import (
    create_low_profile_response,
    error_info,
    low_profile_result,
    token_info,
    transaction_info,
)
from fitdata_adapters.cardcom_sandbox.store import (
    Deal,
    JsonObject,
    LowProfile,
    SandboxState,
    SavedCard,
)
from fitdata_adapters.cardcom_sandbox.validation import BadRequest
from fitdata_adapters.cardcom_sandbox.webhooks import WebhookDispatcher

ALL_OPERATIONS = frozenset(
    {"ChargeOnly", "ChargeAndCreateToken", "CreateTokenOnly", "SuspendedDeal", "Do3DSAndSubmit"}
)
#: The operations the sandbox's hosted page implements.
SUPPORTED_OPERATIONS = frozenset({"ChargeOnly", "ChargeAndCreateToken"})
#: The legacy numeric ``Operation`` in redirect query strings (1 bill, 2 bill + token).
_LEGACY_OPERATION = {"ChargeOnly": "1", "ChargeAndCreateToken": "2"}

BAD_CREDENTIALS_DESCRIPTION = "שם משתמש או סיסמה שגויים (wrong user name or password)"

ApiAnswer = tuple[int, JsonObject]


class UnknownLowProfile(LookupError):
    """No hosted page has this id."""


class AlreadyProcessed(Exception):
    """The payer already submitted this page; Cardcom pages are single-use."""


@attrs.frozen
class PageOutcome:
    approved: bool
    redirect_url: str
    result: JsonObject


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class CardcomSandbox:
    """One fake Cardcom terminal: hosted pages, tokens, deals and webhook deliveries."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(always_report=config.always_report, time_scale=config.time_scale)
        self.webhooks = WebhookDispatcher(lambda: self.state.time_scale)
        self._stopping = asyncio.Event()
        self._store: StateFile | None = None
        if config.state_dir is not None:
            # Raises SandboxStateError (naming the file) before anything is served.
            self._store = StateFile(config.state_dir)
            self.webhooks.restore(self._store.load(self.state))
            self.webhooks.on_change = self.save

    def save(self) -> None:
        """Write the persistent state, when there is a store (after every change)."""
        if self._store is not None:
            self._store.save(self.state, self.webhooks.deliveries)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def today(self) -> date:
        return self.now().date()

    def page_url(self, low_profile: LowProfile, base_url: str) -> str:
        base = (self.config.public_base_url or base_url).rstrip("/")
        return f"{base}/EA/LPC6/{low_profile.terminal_number}/{low_profile.id}"

    def _credentials_error(self, body: dict[str, Any]) -> JsonObject | None:
        if (
            body["TerminalNumber"] != self.config.terminal_number
            or body["ApiName"] != self.config.api_name
        ):
            return error_info(codes.BAD_CREDENTIALS, BAD_CREDENTIALS_DESCRIPTION)
        return None

    def _validate(self, raw: Any, schema: Any) -> dict[str, Any]:
        return validation.validate(raw, schema, strict=self.config.strict_fields)

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up early when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def reset(self) -> None:
        """Forget everything and restore the configured settings."""
        await self.webhooks.cancel_all()
        self.webhooks.clear()
        self.state.reset(always_report=self.config.always_report, time_scale=self.config.time_scale)
        self.save()

    async def shutdown(self) -> None:
        self._stopping.set()
        await self.webhooks.aclose()
        if self._store is not None:
            self.save()
            self._store.close()
            self._store = None

    # ------------------------------------------------------------------ v11 API

    def create_low_profile(self, raw: Any, *, base_url: str) -> ApiAnswer:
        """``LowProfile/Create``."""
        body = self._validate(raw, validation.CREATE_LOW_PROFILE)
        if error := self._credentials_error(body):
            return 200, error
        operation = body.get("Operation") or "ChargeOnly"
        if operation not in ALL_OPERATIONS:
            raise BadRequest(f"The Operation value {operation!r} is not valid.")
        if operation not in SUPPORTED_OPERATIONS:
            raise BadRequest(f"Operation {operation} is not supported by the sandbox.")
        ui = body.get("UIDefinition") or {}
        low_profile = LowProfile(
            id=str(uuid.uuid4()),
            terminal_number=self.config.terminal_number,
            operation=operation,
            amount=validation.amount(body["Amount"]),
            iso_coin_id=body.get("ISOCoinId") or 1,
            return_value=body.get("ReturnValue"),
            product_name=body.get("ProductName"),
            language=body.get("Language") or "he",
            webhook_url=body["WebHookUrl"],
            success_url=body["SuccessRedirectUrl"],
            failed_url=body["FailedRedirectUrl"],
            cancel_url=body.get("CancelRedirectUrl"),
            owner_email=ui.get("CardOwnerEmailValue"),
            owner_name=ui.get("CardOwnerNameValue"),
            created_at=self.now(),
        )
        self.state.low_profiles[low_profile.id] = low_profile
        self.save()
        return 200, create_low_profile_response(low_profile, self.page_url(low_profile, base_url))

    def get_lp_result(self, raw: Any) -> ApiAnswer:
        """``LowProfile/GetLpResult``: not-finalised until the payer submits the page."""
        body = self._validate(raw, validation.GET_LP_RESULT)
        if error := self._credentials_error(body):
            return 200, error
        low_profile_id = str(body["LowProfileId"]).lower()
        low_profile = self.state.low_profiles.get(low_profile_id)
        if low_profile is None:
            return 200, {
                **error_info(codes.NOT_FOUND, "Low profile deal not found"),
                "LowProfileId": body["LowProfileId"],
                "TranzactionId": 0,
            }
        return 200, low_profile.result or low_profile_result(low_profile)

    def transaction(self, raw: Any) -> ApiAnswer:
        """``Transactions/Transaction``: a token charge, idempotent on ``ExternalUniqTranId``."""
        body = self._validate(raw, validation.TRANSACTION)
        if error := self._credentials_error(body):
            return 200, error
        if body.get("CardNumber"):
            raise BadRequest("The sandbox supports token charges only (send Token).")
        token = body.get("Token")
        if not token:
            raise BadRequest("Token or CardNumber is required.")
        expiry = body.get("CardExpirationMMYY")
        if not expiry:
            raise BadRequest("The CardExpirationMMYY field is required for token charges.")
        if len(expiry) != 4 or not expiry.isdigit() or not 1 <= int(expiry[:2]) <= 12:
            raise BadRequest("The CardExpirationMMYY field must be MMYY.")
        amount = validation.amount(body["Amount"])
        if not 1 <= (body.get("NumOfPayments") or 1) <= 36:
            raise BadRequest("The NumOfPayments field must be between 1 and 36.")
        coin_id = body.get("ISOCoinId") or 1
        external_id = body.get("ExternalUniqTranId") or None

        if external_id is not None and external_id in self.state.by_external_id:
            if body.get("ExternalUniqUniqTranIdResponse"):
                return 200, self.state.by_external_id[external_id]
            return 200, self._info(
                codes.DUPLICATE_EXTERNAL_ID, "Duplicate ExternalUniqTranId", amount, coin_id
            )

        saved = self.state.cards.get(str(token).lower())
        if saved is None or saved.terminal_number != self.config.terminal_number:
            return 200, self._info(codes.NOT_FOUND, "Token not found", amount, coin_id)

        decline = token_charge_decline(saved.card, amount, expiry, today=self.today())
        transaction_id = 0 if decline else self.state.next_transaction_id()
        answer = transaction_info(
            code=decline.code if decline else codes.OK,
            description=decline.description if decline else "Transaction approved",
            transaction_id=transaction_id,
            terminal_number=self.config.terminal_number,
            amount=amount,
            coin_id=coin_id,
            created_at=self.now(),
            card=saved.card,
            approval_number=_approval_number(transaction_id),
            token=saved.token,
            owner_name=saved.owner_name,
            owner_email=saved.owner_email,
            entry_mode="Phone",
        )
        self.state.deals.append(
            Deal(
                transaction_id=transaction_id,
                source="token",
                amount=amount,
                response_code=int(answer["ResponseCode"]),
                description=str(answer["Description"]),
                created_at=self.now(),
                external_uniq_id=external_id,
                last4=saved.card.last4,
            )
        )
        if external_id is not None:
            self.state.by_external_id[external_id] = answer
        self.save()
        return 200, answer

    def find_transaction(self, raw: Any) -> ApiAnswer:
        """``Transactions/GetTransactionByExternalUniqTran``."""
        body = self._validate(raw, validation.FIND_TRANSACTION)
        if error := self._credentials_error(body):
            return 200, error
        external_id = body.get("ExternalUniqTranId")
        if not external_id and not body.get("ExternalMerchantId"):
            raise BadRequest("ExternalUniqTranId or ExternalMerchantId is required.")
        found = self.state.by_external_id.get(external_id) if external_id else None
        if found is not None:
            return 200, found
        return 200, self._info(codes.NOT_FOUND, "Transaction not found", Decimal(0), 1)

    def _info(self, code: int, description: str, amount: Decimal, coin_id: int) -> JsonObject:
        return transaction_info(
            code=code,
            description=description,
            transaction_id=0,
            terminal_number=self.config.terminal_number,
            amount=amount,
            coin_id=coin_id,
            created_at=self.now(),
        )

    # ------------------------------------------------------------------ hosted page

    def low_profile(self, low_profile_id: str) -> LowProfile:
        low_profile = self.state.low_profiles.get(low_profile_id.lower())
        if low_profile is None:
            raise UnknownLowProfile(low_profile_id)
        return low_profile

    def pay(
        self,
        low_profile_id: str,
        card: Card,
        *,
        owner_name: str | None = None,
        owner_email: str | None = None,
    ) -> PageOutcome:
        """What happens when the payer submits the hosted page with ``card``.

        Approved: a deal, a token (``ChargeAndCreateToken``), the webhook, and a redirect to
        ``SuccessRedirectUrl``. Declined: a redirect to ``FailedRedirectUrl`` and, when the
        terminal "always reports", the webhook too.
        """
        low_profile = self.low_profile(low_profile_id)
        if low_profile.result is not None:
            raise AlreadyProcessed(low_profile.id)
        owner_email = owner_email or low_profile.owner_email
        owner_name = owner_name or low_profile.owner_name
        decline = page_decline(card, low_profile.amount)
        transaction_id = 0 if decline else self.state.next_transaction_id()
        saved = None
        if decline is None and low_profile.operation == "ChargeAndCreateToken":
            saved = SavedCard(
                token=str(uuid.uuid4()),
                terminal_number=low_profile.terminal_number,
                card=card,
                approval_number=_approval_number(transaction_id) or "",
                owner_name=owner_name,
                owner_email=owner_email,
            )
            self.state.cards[saved.token] = saved
        code = decline.code if decline else codes.OK
        transaction = transaction_info(
            code=code,
            description=decline.description if decline else "Transaction approved",
            transaction_id=transaction_id,
            terminal_number=low_profile.terminal_number,
            amount=low_profile.amount,
            coin_id=low_profile.iso_coin_id,
            created_at=self.now(),
            card=card,
            approval_number=_approval_number(transaction_id),
            token=saved.token if saved else None,
            owner_name=owner_name,
            owner_email=owner_email,
        )
        result = low_profile_result(
            low_profile,
            transaction=transaction,
            token=token_info(saved) if saved else None,
            card=card,
            owner_name=owner_name,
            owner_email=owner_email,
        )
        low_profile.result = result
        self.state.deals.append(
            Deal(
                transaction_id=transaction_id,
                source="page",
                amount=low_profile.amount,
                response_code=code,
                description=str(transaction["Description"]),
                created_at=self.now(),
                low_profile_id=low_profile.id,
                last4=card.last4,
            )
        )
        # Saved before the webhook goes out: the receiver may charge the token at once.
        self.save()
        if decline is None or self.state.always_report:
            self.webhooks.deliver(low_profile.id, low_profile.webhook_url, result)
        target = low_profile.failed_url if decline else low_profile.success_url
        redirect = _with_query(
            target,
            {
                "terminalnumber": str(low_profile.terminal_number),
                "lowprofilecode": low_profile.id,
                "ResponeCode": str(code),  # (sic): Cardcom's spelling
                "Operation": _LEGACY_OPERATION[low_profile.operation],
                "internalDealNumber": str(transaction_id),
                "traceid": uuid.uuid4().hex,
            },
        )
        return PageOutcome(approved=decline is None, redirect_url=redirect, result=result)


def _approval_number(transaction_id: int) -> str | None:
    return f"{transaction_id % 10_000_000:07d}" if transaction_id else None
