"""The fitdata app under uvicorn in a daemon thread, for tests whose client is synchronous
(schemathesis) or lives in another process (a generated client)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import uvicorn

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app

STARTUP_TIMEOUT_SECONDS = 15.0


class LiveApp:
    """Serves ``create_app(build_runtime())`` on 127.0.0.1 (a port the OS picks). The runtime
    is built inside the server thread so its engine belongs to that thread's event loop."""

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

    def start(self, build_runtime: Callable[[], Runtime]) -> None:
        def serve() -> None:
            async def main() -> None:
                app = create_app(build_runtime(), close_runtime_on_shutdown=True)
                config = uvicorn.Config(
                    app, log_level="warning", access_log=False, lifespan="on", ws="none"
                )
                self._server = uvicorn.Server(config)
                await self._server.serve(sockets=[self._sock])

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="fitdata-live-app", daemon=True)
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


JWT_SECRET = "live-app-jwt-secret-long-enough-for-hs256-signing"


@attrs.frozen
class SeededApp:
    """A live app over a seeded gym: its URL, the gym's id and a bearer token per role
    (owner, admin, coach, member)."""

    base_url: str
    org_id: str
    tokens: dict[str, str]


def live_settings(data_dir: Path, database_url: str) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
        }
    )


def _runtime(settings: Settings) -> Runtime:
    return bootstrap(settings, payment_gateway=MemoryPaymentGateway(), queue=MemoryJobQueue())


async def _seed(settings: Settings) -> tuple[str, dict[str, str]]:
    runtime = _runtime(settings)
    try:
        svc = runtime.services
        org = await create_organization(svc, name="Live Gym", owner_email="owner@live.io")
        users: dict[str, str] = {}
        for role in (Role.ADMIN, Role.COACH, Role.MEMBER):
            user = await add_member(
                svc, org_id=org.id, member=NewMember(email=f"{role.value}@live.io", role=role)
            )
            users[role.value] = user.id
        async with svc.uow(read_only=True) as uow:
            owner = await uow.users.get_by_email("owner@live.io")
        assert owner is not None
        users["owner"] = owner.id
    finally:
        await runtime.aclose()
    now = datetime.now(UTC)
    tokens = {
        role: issue_token(JWT_SECRET, user_id, now=now, ttl=timedelta(hours=2))
        for role, user_id in users.items()
    }
    return org.id, tokens


@contextmanager
def seeded_live_app(data_dir: Path, database_file: Path) -> Iterator[SeededApp]:
    """Seed a gym in the migrated SQLite ``database_file`` and serve the app over it (with the
    in-memory payment gateway and queue); stopped on exit."""
    settings = live_settings(data_dir, f"sqlite:///{database_file}")
    org_id, tokens = asyncio.run(_seed(settings))
    app = LiveApp()
    app.start(lambda: _runtime(settings))
    try:
        yield SeededApp(app.base_url, org_id, tokens)
    finally:
        app.stop()
