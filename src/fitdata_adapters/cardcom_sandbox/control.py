"""Test controls under ``/_sandbox/`` (JSON). Not part of Cardcom's protocol.

See :data:`CONTROLS` for the list (also served at ``GET /_sandbox``).
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put
from litestar.params import FromPath

from fitdata_adapters.cardcom_sandbox.api import ENDPOINTS
from fitdata_adapters.cardcom_sandbox.cards import TEST_CARD, CardInputError, parse_card
from fitdata_adapters.cardcom_sandbox.deps import Sandbox
from fitdata_adapters.cardcom_sandbox.engine import (
    AlreadyProcessed,
    UnknownLowProfile,
)
from fitdata_adapters.cardcom_sandbox.shapes import encode
from fitdata_adapters.cardcom_sandbox.store import Fault

PREFIX = "/_sandbox"

#: Every control endpoint and what it takes.
CONTROLS = (
    "GET    /_sandbox: this list",
    "POST   /_sandbox/low-profiles/{id}/pay: pay a page as a browser would"
    " {card_number?, card_expiry? 'MM/YY', cvv?, card_owner_name?, card_owner_email?}",
    "GET    /_sandbox/low-profiles/{id}: a page and, once submitted, its LowProfileResult",
    "GET    /_sandbox/charges: every deal attempt (page and token) and charged_count",
    "GET    /_sandbox/calls: every v11 API call received (endpoint, http_status, response_code)",
    "PUT    /_sandbox/latency: {endpoint? (default every endpoint), ms} added delay; ms 0 removes",
    "POST   /_sandbox/faults: {mode: error|hang|hang_after, count? 1, endpoint?, status? 500,"
    " hang_seconds? 30}",
    "DELETE /_sandbox/faults: disarm every fault",
    "GET    /_sandbox/webhooks: deliveries with their attempts",
    "PUT    /_sandbox/webhooks/suppression: {suppressed: bool}",
    "POST   /_sandbox/webhooks/{id}/redeliver: send a page's result again",
    "PATCH  /_sandbox/settings: {always_report?, time_scale?}",
    "POST   /_sandbox/reset: forget everything",
)


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(body: object, status: int = 200) -> Response[bytes]:
    return Response(content=encode(body), status_code=status, media_type="application/json")


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _ControlError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise _ControlError(400, "body must be a JSON object")
    return data


def _endpoint_key(value: Any) -> str | None:
    if value in (None, "", "*"):
        return None
    key = str(value).strip("/").lower().removeprefix("api/v11/")
    if key not in ENDPOINTS:
        raise _ControlError(400, f"unknown endpoint {value!r}; use one of {sorted(ENDPOINTS)}")
    return key


def _number(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _ControlError(400, f"{key} must be a non-negative number")
    return float(value)


def _error_response(exc: _ControlError) -> Response[bytes]:
    return _json({"error": exc.message}, exc.status)


@get(PREFIX)
async def index() -> Response[bytes]:
    """The control endpoints."""
    return _json({"controls": list(CONTROLS)})


@post(PREFIX + "/low-profiles/{low_profile_id:str}/pay")
async def pay(
    low_profile_id: FromPath[str], request: Request[Any, Any, Any], sandbox: Sandbox
) -> Response[bytes]:
    """Submit a hosted page with a card, exactly as the HTML form would."""
    try:
        data = await _body(request)
        today = sandbox.today()
        card = parse_card(
            str(data.get("card_number") or TEST_CARD),
            str(data.get("card_expiry") or f"12/{(today.year + 2) % 100:02d}"),
            str(data.get("cvv") or "123"),
            today=today,
        )
        outcome = sandbox.pay(
            low_profile_id,
            card,
            owner_name=data.get("card_owner_name"),
            owner_email=data.get("card_owner_email"),
        )
    except _ControlError as exc:
        return _error_response(exc)
    except CardInputError as exc:
        return _json({"error": exc.message, "field": exc.field}, 422)
    except UnknownLowProfile:
        return _json({"error": "unknown LowProfileId"}, 404)
    except AlreadyProcessed:
        return _json({"error": "this page was already submitted"}, 409)
    return _json(
        {
            "approved": outcome.approved,
            "redirect_url": outcome.redirect_url,
            "low_profile_result": outcome.result,
        }
    )


@get(PREFIX + "/low-profiles/{low_profile_id:str}")
async def show_low_profile(low_profile_id: FromPath[str], sandbox: Sandbox) -> Response[bytes]:
    """A page's request data and, once submitted, its ``LowProfileResult``."""
    try:
        low_profile = sandbox.low_profile(low_profile_id)
    except UnknownLowProfile:
        return _json({"error": "unknown LowProfileId"}, 404)
    return _json(
        {
            "LowProfileId": low_profile.id,
            "Operation": low_profile.operation,
            "Amount": low_profile.amount,
            "ISOCoinId": low_profile.iso_coin_id,
            "ReturnValue": low_profile.return_value,
            "ProductName": low_profile.product_name,
            "WebHookUrl": low_profile.webhook_url,
            "SuccessRedirectUrl": low_profile.success_url,
            "FailedRedirectUrl": low_profile.failed_url,
            "CardOwnerEmailValue": low_profile.owner_email,
            "submitted": low_profile.result is not None,
            "result": low_profile.result,
        }
    )


@get(PREFIX + "/charges")
async def charges(sandbox: Sandbox) -> Response[bytes]:
    """Every deal attempt; ``charged_count`` counts the ones that actually charged."""
    deals = sandbox.state.deals
    return _json(
        {
            "charges": [deal.to_json() for deal in deals],
            "charged_count": sum(deal.charged for deal in deals),
        }
    )


@get(PREFIX + "/calls")
async def calls(sandbox: Sandbox) -> Response[bytes]:
    """Every v11 API call received, in order."""
    return _json({"calls": [call.to_json() for call in sandbox.state.calls]})


@put(PREFIX + "/latency")
async def set_latency(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Add ``ms`` of delay to every call of ``endpoint`` (or of all endpoints); 0 removes it."""
    try:
        data = await _body(request)
        key = _endpoint_key(data.get("endpoint")) or "*"
        seconds = _number(data, "ms", 0) / 1000
    except _ControlError as exc:
        return _error_response(exc)
    if seconds:
        sandbox.state.latency[key] = seconds
    else:
        sandbox.state.latency.pop(key, None)
    return _json({"latency_ms": {k: v * 1000 for k, v in sandbox.state.latency.items()}})


@post(PREFIX + "/faults")
async def add_fault(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Make the next ``count`` calls (of ``endpoint``, or any) fail with 500 or hang."""
    try:
        data = await _body(request)
        mode = data.get("mode", "error")
        if mode not in ("error", "hang", "hang_after"):
            raise _ControlError(400, "mode must be error, hang or hang_after")
        count = data.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _ControlError(400, "count must be a positive integer")
        status = data.get("status", 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise _ControlError(400, "status must be an HTTP status code")
        fault = Fault(
            mode=mode,
            remaining=count,
            endpoint=_endpoint_key(data.get("endpoint")),
            status=status,
            hang_seconds=_number(data, "hang_seconds", 30.0),
        )
    except _ControlError as exc:
        return _error_response(exc)
    sandbox.state.faults.append(fault)
    return _json({"faults": [f.to_json() for f in sandbox.state.faults]}, 201)


@delete(PREFIX + "/faults", status_code=200)
async def clear_faults(sandbox: Sandbox) -> Response[bytes]:
    """Disarm every pending fault."""
    sandbox.state.faults.clear()
    return _json({"faults": []})


@get(PREFIX + "/webhooks")
async def webhooks(sandbox: Sandbox) -> Response[bytes]:
    """Webhook deliveries with each attempt's nominal delay, elapsed time and answer."""
    dispatcher = sandbox.webhooks
    return _json(
        {
            "suppressed": dispatcher.suppressed,
            "deliveries": dispatcher.describe(dispatcher.deliveries),
        }
    )


@put(PREFIX + "/webhooks/suppression")
async def suppress_webhooks(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """``{"suppressed": true}``: record new deliveries without sending them."""
    try:
        data = await _body(request)
    except _ControlError as exc:
        return _error_response(exc)
    suppressed = data.get("suppressed")
    if not isinstance(suppressed, bool):
        return _json({"error": "suppressed must be true or false"}, 400)
    sandbox.webhooks.suppressed = suppressed
    return _json({"suppressed": suppressed})


@post(PREFIX + "/webhooks/{low_profile_id:str}/redeliver")
async def redeliver(low_profile_id: FromPath[str], sandbox: Sandbox) -> Response[bytes]:
    """Send a submitted page's ``LowProfileResult`` again (a fresh retry schedule)."""
    try:
        low_profile = sandbox.low_profile(low_profile_id)
    except UnknownLowProfile:
        return _json({"error": "unknown LowProfileId"}, 404)
    if low_profile.result is None:
        return _json({"error": "the page has not been submitted"}, 409)
    delivery = sandbox.webhooks.deliver(low_profile.id, low_profile.webhook_url, low_profile.result)
    return _json({"delivery": delivery.to_json()}, 201)


@patch(PREFIX + "/settings")
async def settings(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Change ``always_report`` and ``time_scale`` at run time."""
    try:
        data = await _body(request)
        if "always_report" in data:
            if not isinstance(data["always_report"], bool):
                raise _ControlError(400, "always_report must be true or false")
            sandbox.state.always_report = data["always_report"]
        if "time_scale" in data:
            sandbox.state.time_scale = _number(data, "time_scale", 1.0)
    except _ControlError as exc:
        return _error_response(exc)
    return _json(
        {"always_report": sandbox.state.always_report, "time_scale": sandbox.state.time_scale}
    )


@post(PREFIX + "/reset", status_code=200)
async def reset(sandbox: Sandbox) -> Response[bytes]:
    """Forget every page, token, deal, fault, latency and delivery."""
    await sandbox.reset()
    return _json({"reset": True})


CONTROL_HANDLERS = [
    index,
    pay,
    show_low_profile,
    charges,
    calls,
    set_latency,
    add_fault,
    clear_faults,
    webhooks,
    suppress_webhooks,
    redeliver,
    settings,
    reset,
]
