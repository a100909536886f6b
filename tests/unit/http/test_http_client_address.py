"""Whose address counts: X-Forwarded-For only from FITDATA_TRUSTED_PROXIES (issue 7, item 9)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from http_support import bearer, make_runtime, seed_gym
from litestar import Request, get
from litestar.types import Receive, Scope, Send

from fitdata_adapters.bootstrap import Runtime
from fitdata_http import create_app
from fitdata_http.client_address import client_address, forwarded_client

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::1"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # Not from a trusted proxy: the header is the client's own words, ignored.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("127.0.0.1", ["198.51.100.1"], "127.0.0.1"),
        # From a trusted proxy: the hop it appended, whatever the client wrote before it.
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        # Through two trusted proxies.
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1, 10.2.3.4"], "198.51.100.1"),
        ("2001:db8::1", ["2001:db8::abcd"], "2001:db8::abcd"),
        # A trusted proxy without the header, or with garbage: the proxy itself.
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
        ("10.0.0.5", ["198.51.100.1, bogus"], "10.0.0.5"),
        # Every hop a trusted proxy: the leftmost one.
        ("10.0.0.5", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        # A peer that is not an IP address (a Unix socket, a test client).
        ("testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert forwarded_client(peer, forwarded_for, PROXIES) == client


def test_nothing_is_trusted_without_proxies() -> None:
    assert forwarded_client("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


@get("/test/client-address", sync_to_thread=False)
def _echo(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"address": client_address(request)}


class _FromPeer:
    """ASGI wrapper: the connection comes from ``peer`` (as a socket would say)."""

    def __init__(self, app: Any, peer: str) -> None:
        self.app, self.peer = app, peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["client"] = (self.peer, 40000)
        await self.app(scope, receive, send)


async def _runtime(tmp_path: Path, proxies: str | None) -> Runtime:
    env = {"FITDATA_TRUSTED_PROXIES": proxies} if proxies is not None else {}
    return make_runtime(tmp_path, env=env)


@attrs.frozen
class Api:
    """A client whose requests come from a given peer, and the runtime behind the app."""

    client: httpx.AsyncClient
    runtime: Runtime

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.post(url, **kw)


@pytest.fixture
async def http(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    proxies, peer = request.param
    runtime = await _runtime(tmp_path, proxies)
    app = create_app(runtime, extra_route_handlers=[_echo])
    transport = httpx.ASGITransport(app=_FromPeer(app, peer))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(client, runtime)
    finally:
        await runtime.aclose()


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        ((None, "127.0.0.1"), "127.0.0.1"),  # the default: no proxy trusted, not even loopback
        (("10.0.0.0/8", "127.0.0.1"), "127.0.0.1"),
        (("10.0.0.0/8", "10.0.0.5"), "198.51.100.1"),
    ],
    indirect=["http"],
)
async def test_the_app_reads_x_forwarded_for_only_from_a_trusted_proxy(
    http: Api, expected: str
) -> None:
    response = await http.get(
        "/test/client-address", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}
    )

    assert response.json() == {"address": expected}


@pytest.mark.parametrize("http", [("10.0.0.0/8", "10.0.0.5")], indirect=True)
async def test_a_forged_address_per_request_does_not_reset_the_export_limit(
    http: Api,
) -> None:
    gym = await seed_gym(http.runtime.services)
    url = f"/organizations/{gym.org_id}/export/members"

    statuses = [
        (
            await http.post(
                url,
                json={},
                headers={**bearer(gym.owner), "X-Forwarded-For": f"198.51.100.{n}"},
            )
        ).status_code
        for n in range(11)
    ]

    assert statuses == [202] * 10 + [429]


@pytest.mark.parametrize("http", [(None, "127.0.0.1")], indirect=True)
async def test_forbidden_export_requests_do_not_spend_the_owners_budget(
    http: Api,
) -> None:
    gym = await seed_gym(http.runtime.services)
    url = f"/organizations/{gym.org_id}/export/members"

    refused = [
        (await http.post(url, json={}, headers=bearer(gym.member))).status_code for _ in range(15)
    ]
    allowed = [
        (await http.post(url, json={}, headers=bearer(gym.owner))).status_code for _ in range(10)
    ]

    assert refused == [403] * 15
    assert allowed == [202] * 10
