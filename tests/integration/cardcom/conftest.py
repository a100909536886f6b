"""Fixtures for CardcomGateway against the Cardcom sandbox over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from fitdata_adapters.cardcom import CardcomGateway
from fitdata_adapters.cardcom_sandbox import SandboxConfig, SandboxThread

from .helpers import (
    API_NAME,
    FAILED_URL,
    FAST_RETRIES,
    SUCCESS_URL,
    TERMINAL,
    WebhookReceiver,
)


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxThread]:
    with SandboxThread(
        SandboxConfig(terminal_number=TERMINAL, api_name=API_NAME, time_scale=0.00001)
    ) as server:
        yield server


@pytest.fixture(autouse=True)
async def control(sandbox_server: SandboxThread) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the sandbox's ``/_sandbox`` controls; the sandbox starts each test empty."""
    async with httpx.AsyncClient(base_url=sandbox_server.base_url, timeout=10) as client:
        response = await client.post("/_sandbox/reset")
        assert response.status_code == 200
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
async def make_gateway(
    sandbox_server: SandboxThread, receiver: WebhookReceiver
) -> AsyncIterator[Callable[..., CardcomGateway]]:
    """Build gateways against the sandbox; each is closed at teardown."""
    made: list[CardcomGateway] = []

    def make(**overrides: Any) -> CardcomGateway:
        options: dict[str, Any] = {
            "base_url": sandbox_server.base_url,
            "terminal_number": TERMINAL,
            "api_name": API_NAME,
            "webhook_url": receiver.url,
            "success_url": SUCCESS_URL,
            "failed_url": FAILED_URL,
            "timeout": 5.0,
            "retry_policy": FAST_RETRIES,
        }
        options.update(overrides)
        gateway = CardcomGateway(**options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def gateway(make_gateway: Callable[..., CardcomGateway]) -> CardcomGateway:
    return make_gateway()
