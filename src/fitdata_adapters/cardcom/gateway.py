"""``PaymentGateway`` over Cardcom's REST API v11 (httpx + tenacity)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import httpx
import structlog
from tenacity import RetryCallState

from fitdata_adapters.cardcom.retry import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    ServerFailure,
    request_never_sent,
    transient_failure,
)
from fitdata_adapters.cardcom.wire import (
    ENDPOINT_CREATE_LOW_PROFILE,
    ENDPOINT_FIND_TRANSACTION,
    ENDPOINT_GET_LP_RESULT,
    ENDPOINT_TRANSACTION,
    PROVIDER,
    CardcomProtocol,
    JsonObject,
)
from fitdata_core.errors import ProviderAuthError, ProviderError
from fitdata_core.ports.providers import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutPage,
    CheckoutRequest,
    PaymentResult,
)

_log = structlog.get_logger("fitdata.cardcom")


#: HTTP clients (connection pools) a gateway takes in turn. httpcore walks every connection of
#: a pool on each request and each answer (is it idle, has it expired, is its socket
#: readable): with the 32 connections a renewal sweep keeps open to Cardcom, those walks were
#: a fifth of the sweep's CPU in a profile. Four pools keep each walk a quarter as long.
_CONNECTION_POOLS = 4
#: Idle connections are closed after this long, before a server with the common 5-second idle
#: timeout closes them: a request sent on a connection the server is closing fails with a
#: read error after it may have arrived, and a checkout page is not retried then. Spread over
#: four pools, each connection sits idle longer between requests, so this matters more.
_KEEPALIVE_SECONDS = 2.0
# httpx's default connection limits, with the shorter keep-alive.
_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=_KEEPALIVE_SECONDS
)


class CardcomGateway:
    """Cardcom hosted checkout, result verification and token charges.

    Retries (one :class:`RetryPolicy`) happen only where repeating cannot charge twice:
    reads and the idempotent token charge on timeouts, connection errors and 5xx;
    ``LowProfile/Create`` only when the connection was never made. Every failure that
    survives the retries becomes ``ProviderError("cardcom", ...)``; bad credentials become
    ``ProviderAuthError``. The terminal's ``ApiName``, card tokens and card data never appear
    in messages or logs.

    Pass ``http`` to share a client (it is then not closed here); otherwise the gateway owns
    a few (:data:`_CONNECTION_POOLS`, taken in turn) and :meth:`aclose` closes them.
    """

    def __init__(
        self,
        *,
        base_url: str,
        terminal_number: int,
        api_name: str,
        webhook_url: str,
        success_url: str,
        failed_url: str,
        http: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._protocol = CardcomProtocol(
            terminal_number=terminal_number,
            api_name=api_name,
            webhook_url=webhook_url,
            success_url=success_url,
            failed_url=failed_url,
        )
        self._owns_http = http is None
        self._clients = (
            [http]
            if http is not None
            else [
                httpx.AsyncClient(timeout=timeout, limits=_LIMITS) for _ in range(_CONNECTION_POOLS)
            ]
        )
        self._next_client = itertools.cycle(self._clients)
        self._timeout = timeout
        self._retry_policy = retry_policy

    def __repr__(self) -> str:
        return (
            f"CardcomGateway(base_url={self._base_url!r},"
            f" terminal_number={self._protocol.terminal_number}, api_name=<redacted>)"
        )

    async def aclose(self) -> None:
        """Close the HTTP clients if this gateway created them."""
        if self._owns_http:
            for client in self._clients:
                await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ PaymentGateway

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutPage:
        """Open a hosted payment page (``ChargeAndCreateToken``) for ``request``.

        Not retried once the request may have reached Cardcom: a second page would be
        harmless but the first one's id would be lost, so the caller decides.
        """
        body = self._protocol.create_low_profile(request)
        answer = await self._post(ENDPOINT_CREATE_LOW_PROFILE, body, retry_on=request_never_sent)
        page = self._protocol.read_checkout_page(answer)
        _log.info("cardcom.checkout_created", low_profile_id=page.low_profile_id)
        return page

    async def get_checkout_result(self, low_profile_id: str) -> PaymentResult:
        """Ask Cardcom what happened on a hosted page (the verification the KB requires)."""
        body = self._protocol.get_lp_result(low_profile_id)
        answer = await self._post(ENDPOINT_GET_LP_RESULT, body, retry_on=transient_failure)
        result = self._protocol.read_payment_result(answer, low_profile_id)
        _log.info(
            "cardcom.checkout_result",
            low_profile_id=result.low_profile_id,
            status=result.status.value,
            provider_transaction_id=result.provider_transaction_id,
        )
        return result

    async def charge_token(self, request: ChargeRequest) -> ChargeOutcome:
        """Charge a saved token once per ``request.external_uniq_id``.

        Retried on timeouts and 5xx because Cardcom answers a repeated
        ``ExternalUniqTranId`` with the original result instead of charging again.
        """
        body = self._protocol.token_charge(request)
        answer = await self._post(ENDPOINT_TRANSACTION, body, retry_on=transient_failure)
        outcome = self._protocol.read_charge(answer)
        if outcome is None:
            # 608: Cardcom already has a deal under this id; report that deal instead.
            outcome = await self.find_charge(request.external_uniq_id)
            if outcome is None:
                raise ProviderError(
                    PROVIDER,
                    f"{ENDPOINT_TRANSACTION} reported a duplicate id that cannot be found",
                )
        _log.info(
            "cardcom.token_charge",
            external_uniq_id=request.external_uniq_id,
            completed=outcome.completed,
            provider_transaction_id=outcome.provider_transaction_id,
        )
        return outcome

    async def find_charge(self, external_uniq_id: str) -> ChargeOutcome | None:
        """The charge made under ``external_uniq_id``, or ``None`` when Cardcom has no deal."""
        body = self._protocol.find_transaction(external_uniq_id)
        answer = await self._post(ENDPOINT_FIND_TRANSACTION, body, retry_on=transient_failure)
        return self._protocol.read_found_charge(answer)

    # ------------------------------------------------------------------ transport

    async def _post(
        self,
        endpoint: str,
        body: JsonObject,
        *,
        retry_on: Callable[[BaseException], bool],
    ) -> Mapping[str, Any]:
        """POST ``body`` with retries, then turn the HTTP answer into a JSON object."""
        url = f"{self._base_url}/api/v11/{endpoint}"
        content = json.dumps(body).encode()

        async def attempt() -> httpx.Response:
            started = time.perf_counter()
            response = await next(self._next_client).post(
                url,
                content=content,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=self._timeout,
            )
            _log.debug(
                "cardcom.call",
                endpoint=endpoint,
                http_status=response.status_code,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            if response.status_code >= 500:
                raise ServerFailure(response.status_code)
            return response

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            _log.warning(
                "cardcom.retrying",
                endpoint=endpoint,
                attempt=state.attempt_number,
                reason=type(failure).__name__ if failure else None,
            )

        retrying = self._retry_policy.retrying(retry_on, before_sleep=before_sleep)
        try:
            response: httpx.Response = await retrying(attempt)
        except httpx.TimeoutException as exc:
            raise ProviderError(PROVIDER, f"{endpoint} timed out") from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                PROVIDER, f"{endpoint} connection failed ({type(exc).__name__})"
            ) from exc
        except ServerFailure as exc:
            raise ProviderError(
                PROVIDER, f"{endpoint} answered HTTP {exc.status}", status=exc.status
            ) from exc
        except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
            raise ProviderError(PROVIDER, f"{endpoint} failed ({type(exc).__name__})") from exc
        return self._read_json(endpoint, response)

    def _read_json(self, endpoint: str, response: httpx.Response) -> Mapping[str, Any]:
        status = response.status_code
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            data = None
        if status == httpx.codes.UNAUTHORIZED:
            raise ProviderAuthError(
                PROVIDER, f"{endpoint} rejected the terminal credentials", status=status
            )
        if status != httpx.codes.OK:
            description = None
            if isinstance(data, Mapping):
                description = self._protocol.redact(str(data.get("Description") or "")) or None
            detail = f": {description}" if description else ""
            raise ProviderError(
                PROVIDER, f"{endpoint} answered HTTP {status}{detail}", status=status
            )
        if not isinstance(data, Mapping):
            raise ProviderError(PROVIDER, f"{endpoint} answered with a body that is not JSON")
        return data
