"""The real exports stack over real sockets, for the QA-plan tests.

* :class:`LiveApp`: ``create_app(bootstrap(settings))`` under uvicorn in a background thread
  (its own event loop) on 127.0.0.1, with the :class:`EmbeddedWorker` started beside it, so an
  export goes request → outbox → relay → worker → S3 → SMTP exactly as in ``fitdata serve``.
* :class:`MotoS3`: moto's standalone S3 server on a free loopback port.
* :class:`SmtpSink`: an aiosmtpd server in the test's event loop that records what it accepts
  and can be told to refuse (``550``).
* Seeding straight into Postgres (SQLAlchemy Core), and a storage wrapper that pulls a real
  plug (kills the database connections, stops S3) once an export has written some bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import email
import email.policy
import io
import re
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import boto3
import httpx
import psycopg
import sqlalchemy as sa
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from moto.server import ThreadedMotoServer

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.ports.infrastructure import ObjectStorage, StoredObject
from fitdata_http import create_app
from fitdata_workers.embedded import EmbeddedWorker
from support.fakes import NoPayments

JWT_SECRET = "exports-integration-jwt-secret-long-enough-for-hs256"
S3_ACCESS_KEY = "AKIAFITDATAEXPORTS001"
S3_SECRET_KEY = "fitdata-exports-test-secret-key-0001"
S3_REGION = "us-east-1"
BOM = b"\xef\xbb\xbf"


# --- S3 (moto) -----------------------------------------------------------------------------


@dataclass
class MotoS3:
    server: ThreadedMotoServer
    endpoint_url: str
    stopped: bool = False

    @classmethod
    def start(cls) -> MotoS3:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return cls(server=server, endpoint_url=f"http://{host}:{port}")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.stop()
        # stop() ends the serve loop but leaves the socket listening; close it so that
        # connections are refused as they would be by a dead server.
        self.server._server.server_close()

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"fitdata-exports-{secrets.token_hex(5)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]


# --- SMTP (aiosmtpd) -----------------------------------------------------------------------


@dataclass
class _Recorder:
    received: list[MimeMessage] = field(default_factory=list)
    refuse_with: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        assert isinstance(envelope.original_content, bytes)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, MimeMessage)
        self.received.append(message)
        return "250 Message accepted"


@dataclass
class SmtpSink:
    """A real SMTP server on loopback in the test's event loop."""

    recorder: _Recorder
    server: asyncio.Server
    port: int

    @classmethod
    async def start(cls) -> SmtpSink:
        recorder = _Recorder()
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(recorder, hostname="localhost"), "127.0.0.1", 0
        )
        return cls(recorder, server, server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    @property
    def received(self) -> list[MimeMessage]:
        return self.recorder.received

    def refuse(self, reply: str = "550 5.7.1 Mailbox unavailable") -> None:
        self.recorder.refuse_with = reply

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def mail_text(message: MimeMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+", text)
    assert found is not None, text
    return found.group(0)


# --- the app under uvicorn -----------------------------------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def settings_for(
    data_dir: Path, *, database_url: str, public_url: str, **env: str | None
) -> Settings:
    values = {
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_MODE": "embedded",
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
        "FITDATA_PUBLIC_URL": public_url,
        "FITDATA_LOG_LEVEL": "WARNING",
    }
    values.update({f"FITDATA_{k.upper()}": v for k, v in env.items() if v is not None})
    return Settings.from_env(values)


def s3_env(moto: MotoS3, bucket: str) -> dict[str, str | None]:
    return {
        "s3_bucket": bucket,
        "s3_endpoint_url": moto.endpoint_url,
        "s3_region": S3_REGION,
        "s3_access_key_id": S3_ACCESS_KEY,
        "s3_secret_access_key": S3_SECRET_KEY,
    }


Overrides = Callable[[Settings], dict[str, Any]]


class LiveApp:
    """The API and the embedded worker under uvicorn, in a thread with its own event loop.

    ``overrides(settings)`` is called inside that thread (ports with sockets bind to the loop
    that first uses them) and its result goes to :func:`bootstrap`; ``wrap_storage`` may wrap
    the storage bootstrap built; ``scheduler`` runs the scheduler too (off by default so no
    sweep interferes with a test that does not ask for one).
    """

    def __init__(
        self,
        settings: Settings,
        sock: socket.socket,
        *,
        overrides: Overrides | None = None,
        wrap_storage: Callable[[ObjectStorage], ObjectStorage] | None = None,
        scheduler: bool = False,
    ) -> None:
        self.settings = settings
        self._scheduler = scheduler
        self._sock = sock
        self._overrides: Overrides = overrides or (lambda _: {})
        self._wrap_storage = wrap_storage
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.runtime: Runtime | None = None
        self._thread = threading.Thread(target=self._run, name="live-app", daemon=True)
        host, port = sock.getsockname()
        self.base_url = f"http://{host}:{port}"

    def start(self) -> LiveApp:
        self._thread.start()
        if not self._ready.wait(timeout=60) or self._failure is not None:
            raise RuntimeError("the live app did not start") from self._failure
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the live app did not stop"
        if self._failure is not None:
            raise RuntimeError("the live app failed") from self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        overrides = self._overrides(self.settings)
        runtime = bootstrap(self.settings, **{"payment_gateway": NoPayments(), **overrides})
        if self._wrap_storage is not None:
            wrapped = self._wrap_storage(runtime.services.storage)
            runtime.services = attrs.evolve(runtime.services, storage=wrapped)
        self.runtime = runtime
        try:
            app = create_app(runtime)
            worker = EmbeddedWorker(
                runtime,
                relay_interval_seconds=0.05,
                run_scheduler=self._scheduler,
                scheduler_interval_seconds=0.1,
                max_attempts=2,
            )

            async def start_worker() -> None:
                await worker.start()

            async def stop_worker() -> None:
                await worker.stop(timeout_seconds=10)

            app.on_startup.append(start_worker)
            app.on_shutdown.insert(0, stop_worker)
            config = uvicorn.Config(
                app, lifespan="on", log_level="warning", server_header=False, access_log=False
            )
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            # uvicorn offers a flag, not an event, for "listening".
            while not self._server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            self._ready.set()
            await serving
        finally:
            try:
                await runtime.aclose()
            finally:
                # bootstrap does not own what it was handed: close the overrides that need it.
                for port in overrides.values():
                    close = getattr(port, "aclose", None)
                    if close is not None:
                        await close()


# --- people and tokens ---------------------------------------------------------------------


def bearer(user_id: str) -> dict[str, str]:
    token = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Person:
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    role: str
    status: str


class Seeder:
    """Writes people straight into Postgres (imports and other systems store values as given,
    e.g. a phone typed with dashes), and reads back what the export should contain."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_sync_engine(database_url)

    def close(self) -> None:
        self.engine.dispose()

    def organization(self, name: str) -> str:
        org_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                t.organizations.insert().values(
                    id=org_id, name=name, platform_tier="lite", created_at=datetime.now(UTC)
                )
            )
        return org_id

    def people(
        self, org_id: str, people: Sequence[Person], *, notes: str | None = None
    ) -> dict[str, str]:
        """Adds everyone in one transaction; returns user ids by email."""
        now = datetime.now(UTC)
        users, memberships, profiles = [], [], []
        ids: dict[str, str] = {}
        for person in people:
            user_id = str(uuid.uuid4())
            ids[person.email] = user_id
            users.append(
                {
                    "id": user_id,
                    "email": person.email,
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "phone": person.phone,
                    "is_platform_admin": False,
                    "created_at": now,
                }
            )
            memberships.append(
                {
                    "id": str(uuid.uuid4()),
                    "organization_id": org_id,
                    "user_id": user_id,
                    "role": person.role,
                    "status": person.status,
                    "plan_id": None,
                    "created_at": now,
                }
            )
            if notes is not None:
                profiles.append(
                    {
                        "organization_id": org_id,
                        "user_id": user_id,
                        "birth_date": None,
                        "gender": None,
                        "address": None,
                        "city": "תל אביב",
                        "notes": notes,
                        "external_source": None,
                        "external_id": None,
                        "updated_at": now,
                    }
                )
        with self.engine.begin() as conn:
            conn.execute(t.users.insert(), users)
            conn.execute(t.memberships.insert(), memberships)
            if profiles:
                conn.execute(t.member_profiles.insert(), profiles)
        return ids

    def emails(
        self, org_id: str, *, roles: Sequence[str] = (), statuses: Sequence[str] = ()
    ) -> list[str]:
        m, u = t.memberships, t.users
        query = (
            sa.select(u.c.email)
            .select_from(m.join(u, u.c.id == m.c.user_id))
            .where(m.c.organization_id == org_id)
        )
        if roles:
            query = query.where(m.c.role.in_(roles))
        if statuses:
            query = query.where(m.c.status.in_(statuses))
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())


# Members whose cells test the CSV's defences: a formula that must be neutralised, and a phone
# typed with dashes that must come out exactly as stored.
FORMULA_NAME = '=HYPERLINK("http://evil.example/x","click me")'
DASHED_PHONE = "+972-54-123-4567"
SPECIAL_PEOPLE = (
    Person("formula@demo-gym.example", FORMULA_NAME, "Attacker", None, "member", "active"),
    Person("dashes@demo-gym.example", "דוד", "בן-חיים", DASHED_PHONE, "member", "invited"),
)


@attrs.frozen
class DemoGym:
    """An organization under test and who is who in it."""

    org_id: str
    owner: str
    admin: str
    coach: str
    member: str
    owner_email: str

    @property
    def base(self) -> str:
        return f"/organizations/{self.org_id}"


LiveAppFactory = Callable[..., LiveApp]


# --- talking to the app --------------------------------------------------------------------


async def wait_for_job(
    client: httpx.AsyncClient,
    base: str,
    job_id: str,
    headers: dict[str, str],
    *,
    within: float = 60,
) -> dict[str, Any]:
    """Poll ``GET /export/jobs/{id}`` until the job is completed or failed."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"{base}/export/jobs/{job_id}", headers=headers)
        # 503 is the API's honest answer while a test has the database down: ask again.
        assert response.status_code in {200, 503}, response.text
        if response.status_code == 200:
            job: dict[str, Any] = response.json()["data"]
            if job["status"] in {"completed", "failed"}:
                return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"export job not finished after {within}s")
        await asyncio.sleep(0.05)


async def wait_until(check: Callable[[], bool], *, within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def parse_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), data[:20]
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))


def presign_window(url: str) -> tuple[datetime, timedelta]:
    """When an S3 presigned URL was signed and how long it lasts."""
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed, timedelta(seconds=int(query["X-Amz-Expires"][0]))


# --- pulling plugs -------------------------------------------------------------------------


class PlugPuller:
    """Storage that passes everything to the real one, but runs ``pull`` (in a thread) once the
    export has produced ``after_bytes`` bytes, then keeps streaming: the rest of the export
    meets whatever ``pull`` broke."""

    def __init__(
        self, inner: ObjectStorage, pull: Callable[[], None], *, after_bytes: int = 1
    ) -> None:
        self._inner = inner
        self._pull = pull
        self._after = after_bytes
        self.pulled = threading.Event()

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        return await self._inner.put_stream(key, self._watch(chunks), content_type=content_type)

    async def _watch(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen >= self._after and not self.pulled.is_set():
                await asyncio.to_thread(self._pull)
                self.pulled.set()
            yield chunk

    def read(self, key: str) -> AsyncIterator[bytes]:
        return self._inner.read(key)

    async def exists(self, key: str) -> bool:
        return await self._inner.exists(key)

    async def delete(self, key: str) -> None:
        await self._inner.delete(key)

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        return await self._inner.signed_url(key, expires_in=expires_in, download_name=download_name)

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        return await self._inner.remove_abandoned_uploads(older_than=older_than)


def terminate_app_connections(server_url: str, database: str) -> Callable[[], None]:
    """A plug: ``pg_terminate_backend`` on every connection to ``database`` but our own."""

    def pull() -> None:
        with psycopg.connect(server_url, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            assert killed is not None
            assert killed[0] >= 1

    return pull


@contextlib.contextmanager
def running(app: LiveApp) -> Any:
    app.start()
    try:
        yield app
    finally:
        app.stop()
