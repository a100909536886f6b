"""Contract fuzzing: schemathesis, driven by the served OpenAPI document, against the real
app (SQLite, the composition root, a seeded gym) over a real socket.

Every operation in the document is exercised (new routes are picked up by themselves), with
a token per role, and every answer is checked against what the document promises: no server
error, a documented status code, a documented content type, a body matching its schema.
Seeds are fixed (``derandomize``), so CI sees the same cases every run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.ext.asyncio import create_async_engine

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.clock import SystemClock
from fitdata_adapters.memory import MemoryJobQueue, memory_services
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import Settings
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.live_app import LiveApp

pytestmark = pytest.mark.integration

JWT_SECRET = "contract-fuzzing-jwt-secret-long-enough-for-hs256"
# Cases per operation and role; CI may raise it (FITDATA_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("FITDATA_FUZZ_EXAMPLES", "50"))
ROLES = ("owner", "coach", "member")


@attrs.frozen
class Seeded:
    base_url: str
    org_id: str
    tokens: dict[str, str]


def _settings(data_dir: Path, database_url: str) -> Settings:
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
        org = await create_organization(svc, name="Fuzz Gym", owner_email="owner@fuzz.io")
        users = {"owner": ""}
        for role in (Role.ADMIN, Role.COACH, Role.MEMBER):
            user = await add_member(
                svc, org_id=org.id, member=NewMember(email=f"{role.value}@fuzz.io", role=role)
            )
            users[role.value] = user.id
        async with svc.uow(read_only=True) as uow:
            owner = await uow.users.get_by_email("owner@fuzz.io")
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


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("contract-fuzz")
    database = data_dir / "fitdata.db"
    shutil.copyfile(_sqlite_template, database)
    settings = _settings(data_dir, f"sqlite:///{database}")
    org_id, tokens = asyncio.run(_seed(settings))
    app = LiveApp()
    app.start(lambda: _runtime(settings))
    try:
        yield Seeded(app.base_url, org_id, tokens)
    finally:
        app.stop()


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built without any I/O (the cases are generated when the
    module is collected; the live app serves the same document, checked below)."""
    data_dir = Path(tempfile.gettempdir()) / "fitdata-contract-doc"
    settings = _settings(data_dir, "sqlite://")
    # Local storage, as in the live app: its signed-download route is part of the document.
    storage = LocalFolderStorage(
        data_dir / "storage",
        public_url=settings.public_url,
        signing_key=b"k" * 32,
        clock=SystemClock(),
    )
    runtime = Runtime(
        settings=settings,
        services=memory_services(storage=storage),
        engine=create_async_engine("sqlite+aiosqlite://"),
        queue=MemoryJobQueue(),
    )
    return create_app(runtime).openapi_schema.to_schema()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_fuzzed_document_is_the_served_one(seeded: Seeded) -> None:
    served = httpx.get(f"{seeded.base_url}/schema/openapi.json", timeout=10).json()
    assert served == json.loads(json.dumps(DOCUMENT))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@schema.parametrize()
@schema.given(role=st.sampled_from(ROLES))
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, seeded: Seeded, role: str
) -> None:
    org_id = (case.path_parameters or {}).get("orgId")
    if isinstance(org_id, str) and _is_uuid(org_id):
        # The seeded gym: a random id would only ever meet "not found". (A generated id that
        # is not a UUID stays: those cases check that it is refused.)
        case.path_parameters = {**(case.path_parameters or {}), "orgId": seeded.org_id}
    case.call_and_validate(
        base_url=seeded.base_url,
        headers={"Authorization": f"Bearer {seeded.tokens[role]}"},
        # A request of the documented shape may still be refused by a business rule that
        # depends on the gym's state (400 PAYMENT_REQUIRED, NO_SUBSCRIPTION, FREE_TIER...), so
        # "every valid-looking request succeeds" is not part of this contract.
        excluded_checks=[positive_data_acceptance],
    )
