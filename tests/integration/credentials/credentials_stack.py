"""The real stack for the provider-config QA rows: the app over Postgres, one runtime per
keyring (so a test can rotate keys between requests), and a gym with every role."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import sqlalchemy as sa
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.fakes import NoPayments

Client = AsyncTestClient[Litestar]
JWT_SECRET = "credentials-integration-jwt-secret-long-enough"
K1 = KeyringCipher.generate_spec("k1")
K2 = KeyringCipher.generate_spec("k2")


def settings_for(
    data_dir: Path, database_url: str, keys: str, arbox_url: str | None = None
) -> Settings:
    """Embedded settings with keyring ``keys``; imports read Arbox at ``arbox_url`` if given."""
    env = {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
        "FITDATA_CREDENTIAL_KEYS": keys,
    }
    if arbox_url is not None:
        env["FITDATA_ARBOX_BASE_URL"] = arbox_url
    return Settings.from_env(env)


def bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=10))
    return {"Authorization": f"Bearer {jwt}"}


@attrs.frozen
class Gym:
    org_id: str
    users: dict[Role, str]

    @property
    def url(self) -> str:
        return f"/organizations/{self.org_id}/import/provider-config"

    def headers(self, role: Role) -> dict[str, str]:
        return bearer(self.users[role])


async def make_gym(runtime: Runtime, name: str = "Acre CrossFit") -> Gym:
    svc = runtime.services
    slug = name.lower().replace(" ", "")
    org = await create_organization(svc, name=name, owner_email=f"owner@{slug}.io")
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email(f"owner@{slug}.io")
    assert owner is not None
    users = {Role.OWNER: owner.id}
    for role in (Role.ADMIN, Role.COACH, Role.MEMBER):
        user = await add_member(svc, org_id=org.id, member=NewMember(f"{role}@{slug}.io", role))
        users[role] = user.id
    return Gym(org.id, users)


@asynccontextmanager
async def running(
    tmp_path: Path, database_url: str, keys: str, arbox_url: str | None = None
) -> AsyncIterator[tuple[Runtime, Client]]:
    """A runtime with keyring ``keys`` over ``database_url`` (its imports reading Arbox at
    ``arbox_url``, if given), and a client of its app."""
    runtime = bootstrap(
        settings_for(tmp_path, database_url, keys, arbox_url),
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
    )
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            yield runtime, client
    finally:
        await runtime.aclose()


async def provider_rows(runtime: Runtime, org_id: str) -> list[dict[str, Any]]:
    """The org's ``import_provider_configs`` rows as stored, oldest first."""
    async with runtime.engine.connect() as conn:
        result = await conn.execute(
            sa.text(
                "SELECT id, key_id, is_active, credentials_encrypted, created_by "
                "FROM import_provider_configs WHERE organization_id = :org "
                "ORDER BY created_at, id"
            ),
            {"org": org_id},
        )
        return [dict(row) for row in result.mappings()]


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a loopback socket in a daemon thread; yields its base URL.

    Requests to it are really concurrent (the in-process test client runs one at a time),
    which is what a race needs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    holder: dict[str, uvicorn.Server] = {}

    def serve() -> None:
        async def main() -> None:
            runtime = bootstrap(settings, payment_gateway=NoPayments(), queue=MemoryJobQueue())
            app = create_app(runtime, close_runtime_on_shutdown=True)
            config = uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="on", ws="none"
            )
            server = uvicorn.Server(config)
            holder["server"] = server
            await server.serve(sockets=[sock])

        asyncio.run(main())

    thread = threading.Thread(target=serve, name="credentials-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while "server" not in holder or not holder["server"].started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fitdata app did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["server"].should_exit = True
        thread.join(timeout=15)
        sock.close()


def http_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=30)


@attrs.frozen
class CliOutcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(args: list[str], env: dict[str, str]) -> CliOutcome:
    """``fitdata <args>`` in-process with exactly ``env`` as its FITDATA_* settings."""
    from typer.testing import CliRunner

    from fitdata_adapters.cli import app

    cleared = {name: None for name in os.environ if name.startswith("FITDATA_")}
    keep = {k: v for k, v in os.environ.items() if k.startswith("FITDATA_TEST_")}
    result = CliRunner().invoke(app, args, env={**cleared, **keep, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliOutcome(result.exit_code, result.stdout, result.stderr)


def cli_env(data_dir: Path, database_url: str, keys: str) -> dict[str, str]:
    return {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
        "FITDATA_CREDENTIAL_KEYS": keys,
        "FITDATA_LOG_LEVEL": "WARNING",
    }
