"""The real billing stack over real sockets, for the QA-plan rows.

* the fitdata app (``create_app(bootstrap(settings, ...))``) under uvicorn in a background
  thread on 127.0.0.1, port chosen by the OS;
* the Cardcom sandbox on its own socket (:class:`SandboxThread`), with
  ``FITDATA_CARDCOM_BASE_URL`` pointed at it and ``FITDATA_PUBLIC_URL`` at the app, so the
  sandbox's webhooks and redirects reach the app;
* Postgres (a throwaway database of the test session).

The app's runtime lives on the server thread's event loop; the test gets a second runtime
over the same database, sandbox, clock, mailer and error reporter for the use cases it drives
directly (the sweeps), because database and HTTP connections belong to one event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import uvicorn
from litestar.types import ControllerRouterHandler

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter, MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.events import DomainEvent
from fitdata_core.model.organizations import Role
from fitdata_core.services import Services
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app

JWT_SECRET = "billing-integration-jwt-secret-long-enough-for-hs256"
TERMINAL = 1000
API_NAME = "fitdata-billing-it"
CREDENTIAL_KEYS = KeyringCipher.generate_spec("billing-it")

STARTUP_TIMEOUT_SECONDS = 15.0


def webhook_body(low_profile_id: str) -> dict[str, Any]:
    """What Cardcom posts (v11 JSON) when the page was paid."""
    return {"ResponseCode": 0, "LowProfileId": low_profile_id, "TerminalNumber": TERMINAL}


def bearer(user_id: str, *, platform_admin: bool = False) -> dict[str, str]:
    token = issue_token(
        JWT_SECRET,
        user_id,
        now=datetime.now(UTC),
        platform_admin=platform_admin,
        ttl=timedelta(hours=1),
    )
    return {"Authorization": f"Bearer {token}"}


def billing_settings(data_dir: Path, database_url: str, public_url: str, cardcom: str) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
            "FITDATA_PUBLIC_URL": public_url,
            "FITDATA_CARDCOM_BASE_URL": cardcom,
            "FITDATA_CARDCOM_TERMINAL_NUMBER": str(TERMINAL),
            "FITDATA_CARDCOM_API_NAME": API_NAME,
            "FITDATA_CREDENTIAL_KEYS": CREDENTIAL_KEYS,
            "FITDATA_LOG_LEVEL": "WARNING",
        }
    )


class AppServer:
    """The fitdata app under uvicorn in a daemon thread, on a socket bound up front (so the
    public URL, which the Cardcom gateway needs, is known before the app is built)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(
        self,
        build_runtime: Callable[[], Runtime],
        extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    ) -> None:
        """Build the runtime (inside the server thread's loop) and serve the app."""

        def serve() -> None:
            # The runtime is built here so its engine and HTTP client belong to this loop.
            async def main() -> None:
                runtime = build_runtime()
                app = create_app(
                    runtime,
                    extra_route_handlers=extra_route_handlers,
                    close_runtime_on_shutdown=True,
                )
                config = uvicorn.Config(
                    app,
                    log_level="warning",
                    access_log=False,
                    lifespan="on",
                    ws="none",
                    timeout_graceful_shutdown=2,
                )
                server = uvicorn.Server(config)
                self._server = server
                await server.serve(sockets=[self._sock])

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="fitdata-app", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while self._server is None or not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fitdata app did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._sock.close()


@attrs.frozen
class GymUsers:
    org_id: str
    owner: str
    admin: str
    coach: str
    member: str
    owner_email: str


@attrs.define
class Stack:
    """Everything a billing row needs: the app over HTTP, the sandbox, the test's runtime."""

    app: httpx.AsyncClient
    cardcom: httpx.AsyncClient  # the sandbox's /_sandbox controls
    runtime: Runtime  # the test loop's own runtime (same database, sandbox, fakes)
    clock: ManualClock
    mailer: MemoryMailer
    errors: MemoryErrorReporter
    database_url: str
    settings: Settings

    @property
    def svc(self) -> Services:
        return self.runtime.services

    # --- people -----------------------------------------------------------------------------

    async def gym(self, name: str = "Tel Aviv Strength") -> GymUsers:
        """A lite organization with one user of each role."""
        suffix = name.lower().replace(" ", "-")
        owner_email = f"owner@{suffix}.example.com"
        org = await create_organization(self.svc, name=name, owner_email=owner_email)
        ids: dict[Role, str] = {}
        for role in (Role.ADMIN, Role.COACH, Role.MEMBER):
            user = await add_member(
                self.svc,
                org_id=org.id,
                member=NewMember(email=f"{role.value}@{suffix}.example.com", role=role),
            )
            ids[role] = user.id
        async with self.svc.uow() as uow:
            owner = await uow.users.get_by_email(owner_email)
        assert owner is not None
        return GymUsers(
            org.id, owner.id, ids[Role.ADMIN], ids[Role.COACH], ids[Role.MEMBER], owner_email
        )

    # --- the API ----------------------------------------------------------------------------

    async def checkout(self, gym: GymUsers, tier: str = "pro") -> dict[str, Any]:
        response = await self.app.post(
            f"/organizations/{gym.org_id}/billing/checkout",
            json={"tier": tier},
            headers=bearer(gym.owner),
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def status(self, gym: GymUsers, user_id: str | None = None) -> dict[str, Any]:
        response = await self.app.get(
            f"/organizations/{gym.org_id}/billing", headers=bearer(user_id or gym.owner)
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def transactions(self, gym: GymUsers) -> list[dict[str, Any]]:
        response = await self.app.get(
            f"/organizations/{gym.org_id}/billing/transactions?limit=100",
            headers=bearer(gym.owner),
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["data"]
        return items

    async def event_names(self, gym: GymUsers) -> list[str]:
        response = await self.app.get(
            f"/organizations/{gym.org_id}/billing/events?limit=100", headers=bearer(gym.owner)
        )
        assert response.status_code == 200, response.text
        return [event["name"] for event in response.json()["data"]]

    async def events(self, org_id: str) -> list[DomainEvent]:
        async with self.svc.uow() as uow:
            page = await uow.billing_events.list_for_org(org_id, limit=100, offset=0)
        return list(page.items)

    async def verify(self, gym: GymUsers, low_profile_id: str) -> httpx.Response:
        return await self.app.post(
            f"/organizations/{gym.org_id}/billing/verify-checkout",
            json={"lowProfileId": low_profile_id},
            headers=bearer(gym.owner),
        )

    async def post_webhook(self, low_profile_id: str, **extra: Any) -> httpx.Response:
        """What Cardcom posts (v11 JSON), with whatever a forger might add."""
        return await self.app.post("/webhooks/cardcom", json=webhook_body(low_profile_id) | extra)

    # --- the sandbox ------------------------------------------------------------------------

    async def pay(self, low_profile_id: str, card: str | None = None) -> dict[str, Any]:
        """The payer submits the hosted page (the sandbox's control does what the form does)."""
        body = {"card_number": card} if card else {}
        response = await self.cardcom.post(
            f"/_sandbox/low-profiles/{low_profile_id}/pay", json=body
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def suppress_webhooks(self, suppressed: bool = True) -> None:
        response = await self.cardcom.put(
            "/_sandbox/webhooks/suppression", json={"suppressed": suppressed}
        )
        assert response.status_code == 200

    async def deliveries(self, low_profile_id: str) -> list[dict[str, Any]]:
        response = await self.cardcom.get("/_sandbox/webhooks")
        return [d for d in response.json()["deliveries"] if d["low_profile_id"] == low_profile_id]

    async def wait_delivered(self, low_profile_id: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` webhook deliveries for the page were answered 200 by the app."""
        found: list[dict[str, Any]] = []

        async def delivered() -> bool:
            nonlocal found
            found = await self.deliveries(low_profile_id)
            return sum(d["state"] == "delivered" for d in found) >= count

        await eventually(delivered, within=15)
        return found

    async def token_charges(self) -> list[dict[str, Any]]:
        response = await self.cardcom.get("/_sandbox/charges")
        return [c for c in response.json()["charges"] if c["Source"] == "token"]

    async def activate(self, gym: GymUsers, tier: str = "pro", card: str | None = None) -> str:
        """Check out and pay; returns once the webhook has activated the tier."""
        session = await self.checkout(gym, tier)
        await self.pay(session["lowProfileId"], card)
        await self.wait_delivered(session["lowProfileId"])
        status = await self.status(gym)
        assert status["tier"] == tier, status
        return str(session["lowProfileId"])

    def alerts(self, text: str) -> list[str]:
        return [r.message for r in self.errors.reports if text in r.message]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


def build_runtime(
    settings: Settings, clock: ManualClock, mailer: MemoryMailer, errors: MemoryErrorReporter
) -> Runtime:
    return bootstrap(settings, clock=clock, mailer=mailer, errors=errors, queue=MemoryJobQueue())
