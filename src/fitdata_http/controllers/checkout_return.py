"""``GET /billing/checkout-return``: the page a payer's browser lands on after Cardcom.

Cardcom redirects the browser here with ``lowprofilecode`` (and more) in the query string.
The query string is only used to know *which* payment to look at: like the webhook, the page
pulls the result from Cardcom and runs the same activation (so a payer whose webhook was lost
is activated right here, S3). It then says plainly what happened: the gym is on the new tier,
the payment is still being confirmed (the page refreshes itself), or it failed.

Public (the browser carries no token) and deliberately terse: it names no organization.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.enums import MediaType

from fitdata_adapters.cardcom import webhook_low_profile_id
from fitdata_adapters.logging import get_logger
from fitdata_core.errors import ProviderError
from fitdata_core.model.billing import TransactionStatus
from fitdata_core.services import Services
from fitdata_core.usecases import billing
from fitdata_http.contract import answers
from fitdata_http.deps import ServicesDep
from fitdata_http.errors import status_for
from fitdata_http.pages import Page
from fitdata_http.params import is_low_profile_id

__all__ = ["CheckoutReturnController", "ReturnPage"]

_log = get_logger("fitdata.http.checkout_return")

# What the return page says; the name the tests and docs know it by.
ReturnPage = Page


async def _page_for(svc: Services, low_profile_id: str) -> ReturnPage:
    try:
        await billing.handle_webhook(svc, low_profile_id)
    except ProviderError as exc:
        _log.warning(
            "checkout_return_verify_failed", low_profile_id=low_profile_id, error=type(exc).__name__
        )
        return ReturnPage(
            "unavailable",
            "Confirming your payment",
            "We could not reach the payment provider to confirm your payment yet. If you "
            "paid, there is nothing more to do: it is confirmed automatically within minutes. "
            "This page will try again shortly.",
            status_code=status_for(exc),
            refresh=True,
        )
    async with svc.uow(read_only=True) as uow:
        txn = await uow.billing_transactions.get_by_low_profile_id(low_profile_id)
        org = await uow.organizations.get(txn.organization_id) if txn else None
    if txn is None or org is None:
        return ReturnPage(
            "unknown",
            "Payment not found",
            "We do not know this payment. Check the link, or start the upgrade again from "
            "your billing settings.",
            status_code=404,
        )
    tier = txn.tier.value.capitalize()
    if txn.status is TransactionStatus.COMPLETED:
        if org.platform_tier is txn.tier:
            return ReturnPage(
                "active",
                f"You are on {tier}",
                f"Payment received. Your gym is now on the {tier} plan; its features are "
                "available right away.",
            )
        return ReturnPage(
            "active",
            "Payment received",
            f"Payment received for the {tier} plan. Your gym is currently on the "
            f"{org.platform_tier.value.capitalize()} plan; see your billing settings.",
        )
    if txn.status is TransactionStatus.PENDING:
        return ReturnPage(
            "pending",
            "Confirming your payment",
            f"Your payment for the {tier} plan is still being confirmed by the payment "
            "provider. This page refreshes by itself; you can also close it, the plan "
            "switches on as soon as the payment is confirmed.",
            refresh=True,
        )
    if txn.status is TransactionStatus.FAILED:
        return ReturnPage(
            "failed",
            "Payment failed",
            f"The payment for the {tier} plan did not go through, so your plan has not "
            "changed. You can try again with another card from your billing settings.",
        )
    return ReturnPage(
        "cancelled",
        "Checkout no longer valid",
        "This checkout was replaced or cancelled, so your plan has not changed. Start the "
        "upgrade again from your billing settings.",
    )


class CheckoutReturnController(Controller):
    path = "/billing"
    tags = ["billing"]  # noqa: RUF012 - Litestar reads these as class attributes

    @get(
        "/checkout-return",
        summary="Where Cardcom sends the payer back: verifies and reports in HTML (public)",
        media_type=MediaType.HTML,
        # A bad or unknown reference is a 400 page; Cardcom or our database down, a 503 page.
        opt=answers(errors=(400,), error_media=(MediaType.HTML.value,), media=MediaType.HTML.value),
    )
    async def checkout_return(
        self, services: ServicesDep, request: Request[Any, Any, Any]
    ) -> Response[str]:
        low_profile_id = webhook_low_profile_id(dict(request.query_params))
        if low_profile_id is None:
            return ReturnPage(
                "invalid",
                "Missing payment reference",
                "This page needs the lowprofilecode query parameter that the payment "
                "provider adds when it sends you back.",
                status_code=400,
            ).response()
        if not is_low_profile_id(low_profile_id):
            return ReturnPage(
                "invalid",
                "Invalid payment reference",
                "The lowprofilecode in this link is not one the payment provider issues. "
                "Check the link, or start the upgrade again from your billing settings.",
                status_code=400,
            ).response()
        page = await _page_for(services, low_profile_id)
        _log.info("checkout_return", low_profile_id=low_profile_id, state=page.state)
        return page.response()
