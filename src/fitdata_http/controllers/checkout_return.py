"""``GET /billing/checkout-return``: the page a payer's browser lands on after Cardcom.

Cardcom redirects the browser here with ``lowprofilecode`` (and more) in the query string.
The query string is only used to know *which* payment to look at: like the webhook, the page
pulls the result from Cardcom and runs the same activation (so a payer whose webhook was lost
is activated right here, S3). It then says plainly what happened: the gym is on the new tier,
the payment is still being confirmed (the page refreshes itself), or it failed.

Public (the browser carries no token) and deliberately terse: it names no organization.
"""

from __future__ import annotations

from html import escape
from typing import Any

import attrs
from litestar import Controller, Request, Response, get
from litestar.enums import MediaType

from fitdata_adapters.cardcom import webhook_low_profile_id
from fitdata_adapters.logging import get_logger
from fitdata_core.errors import ProviderError
from fitdata_core.model.billing import TransactionStatus
from fitdata_core.services import Services
from fitdata_core.usecases import billing
from fitdata_http.deps import ServicesDep
from fitdata_http.params import is_low_profile_id

__all__ = ["CheckoutReturnController", "ReturnPage"]

_log = get_logger("fitdata.http.checkout_return")

# While Cardcom has not finalised the payment the page reloads itself this often (seconds).
REFRESH_SECONDS = 5

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;padding:2rem;"
    "color:#1d2430}main{max-width:30rem;margin:auto;background:#fff;border-radius:12px;"
    "padding:1.5rem 2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    ".ok{color:#1a7f37}.wait{color:#9a6700}.bad{color:#b42318}"
)


@attrs.frozen
class ReturnPage:
    """What the page says: a machine-readable ``state`` (also in ``data-state``) and text."""

    state: str  # active | pending | failed | cancelled | unknown | unavailable | invalid
    title: str
    message: str
    status_code: int = 200
    refresh: bool = False

    def render(self) -> str:
        css = {"active": "ok", "pending": "wait", "unavailable": "wait"}.get(self.state, "bad")
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if self.refresh else ""
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{refresh}<title>{escape(self.title)}</title><style>{_STYLE}</style></head>"
            f'<body><main data-state="{escape(self.state)}">'
            f'<h1 class="{css}">{escape(self.title)}</h1><p>{escape(self.message)}</p>'
            "</main></body></html>"
        )

    def response(self) -> Response[str]:
        headers = {"Cache-Control": "no-store"}
        if self.state == "unavailable":
            headers["Retry-After"] = str(REFRESH_SECONDS)
        return Response(
            content=self.render(),
            status_code=self.status_code,
            media_type=MediaType.HTML,
            headers=headers,
        )


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
            status_code=503,
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
