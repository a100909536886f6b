"""The embedded mode's Arbox (issue 9, "Arbox source"): with no ``FITDATA_ARBOX_BASE_URL`` the
composition root points imports at the in-process sandbox, and ``fitdata demo``'s gym
imports its ~1,500 members with the credentials the demo stored, over HTTP, on Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from fitdata_adapters.arbox_sandbox import expected_counts
from fitdata_adapters.arbox_sandbox.embedded import EMBEDDED_MEMBERS, EmbeddedArboxSource
from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.db import tables as t
from fitdata_adapters.demo import seed_demo
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_http import create_app
from support.fakes import NoPayments
from support.imports import drain

pytestmark = pytest.mark.integration

JWT_SECRET = "integration-embedded-arbox-jwt-secret-long-enough"


def _settings(tmp_path: Path, database_url: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
            **env,
        }
    )


async def test_a_configured_origin_is_used_as_given(tmp_path: Path, clean_pg_url: str) -> None:
    settings = _settings(tmp_path, clean_pg_url, FITDATA_ARBOX_BASE_URL="http://127.0.0.1:9")
    runtime = bootstrap(settings, payment_gateway=NoPayments(), queue=MemoryJobQueue())
    try:
        assert repr(runtime.services.member_source) == "ArboxSource(base_url='http://127.0.0.1:9')"
    finally:
        await runtime.aclose()


async def test_the_demo_gym_imports_the_embedded_sandbox_members(
    tmp_path: Path, clean_pg_url: str
) -> None:
    """Right after the demo: POST /import with the stored credentials brings in the sandbox's
    1,500 members (1,499 and the one malformed email in ``errors``), its plans and leads."""
    runtime = bootstrap(
        _settings(tmp_path, clean_pg_url), payment_gateway=NoPayments(), queue=MemoryJobQueue()
    )
    try:
        source = runtime.services.member_source
        assert isinstance(source, EmbeddedArboxSource)
        # Cheap start-up: no server thread until the first import asks for it.
        with pytest.raises(RuntimeError, match="not running"):
            _ = source.sandbox_thread.port
        gym = await seed_demo(runtime, member_count=5)
        owner = gym.login(Role.OWNER).user_id
        token = issue_token(JWT_SECRET, owner, now=datetime.now(UTC), ttl=timedelta(minutes=30))
        headers = {"Authorization": f"Bearer {token}"}
        base = f"/organizations/{gym.org_id}/import"
        async with AsyncTestClient(app=create_app(runtime)) as client:
            stored = await client.get(f"{base}/provider-config", headers=headers)
            assert stored.status_code == 200, stored.text
            assert stored.json()["data"]["hasApiKey"] is True
            assert stored.json()["data"]["hasManagementLogin"] is True
            started = await client.post(
                base,
                json={
                    "source": "arbox",
                    "entities": {"plans": True, "members": True, "leads": True},
                    "enrich": False,
                },
                headers=headers,
            )
            assert started.status_code == 202, started.text
            await drain(runtime.services)
            job = (
                await client.get(f"{base}/jobs/{started.json()['data']['jobId']}", headers=headers)
            ).json()["data"]
        assert job["status"] == "completed", job
        assert job["results"]["members"]["created"] == EMBEDDED_MEMBERS - 1
        assert job["results"]["members"]["failed"] == 1
        plans = job["results"]["plans"]  # the demo's catalog may already hold a name
        assert plans["created"] + plans["updated"] + plans["unchanged"] == 5
        assert job["results"]["leads"]["created"] == expected_counts(EMBEDDED_MEMBERS)["leads"]
        assert source.sandbox_thread.port > 0  # started by the import
        # Running the demo again keeps the stored credentials (no second row).
        await seed_demo(runtime, member_count=5)
        async with runtime.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t.import_provider_configs)
            rows = (await conn.execute(query)).scalar_one()
        assert rows == 1
    finally:
        await runtime.aclose()
    # Closing the runtime stops the sandbox thread.
    with pytest.raises(RuntimeError, match="not running"):
        _ = source.sandbox_thread.port
