"""QA rows "Imports — provider config" over HTTP against Postgres.

Owner posts → row inserted sealed, old row deactivated; GET → metadata, no plaintext, in no
response and no log line; members → 403; bad bodies → 400s; concurrent posts leave exactly
one active row.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import structlog
from credentials_stack import (
    K1,
    http_client,
    make_gym,
    provider_rows,
    running,
    served,
    settings_for,
)

from fitdata_core.model.organizations import Role

pytestmark = pytest.mark.integration

API_KEY = "arbox-business-key-93b1e7"
EMAIL = "frontdesk@acre-arbox.io"
PASSWORD = "Tr0ub4dor&3-acre"
SECRETS = (API_KEY, EMAIL, PASSWORD)


async def test_owner_posts_row_is_inserted_sealed_and_the_old_row_deactivated(
    tmp_path: Path, database_url: str
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        first = await client.post(
            gym.url, json={"apiKey": "an-older-key"}, headers=gym.headers(Role.OWNER)
        )
        second = await client.post(
            gym.url,
            json={"apiKey": API_KEY, "email": EMAIL, "password": PASSWORD},
            headers=gym.headers(Role.OWNER),
        )
        rows = await provider_rows(runtime, gym.org_id)

    assert (first.status_code, second.status_code) == (201, 201)
    assert [(row["is_active"], row["key_id"]) for row in rows] == [(False, "k1"), (True, "k1")]
    assert rows[1]["created_by"] == gym.users[Role.OWNER]
    for row in rows:
        blob = bytes(row["credentials_encrypted"])
        assert len(blob) > 28  # version byte, nonce and tag at least
        assert not [s for s in (*SECRETS, "an-older-key") if s.encode() in blob]
    data = second.json()["data"]
    assert data == {
        "provider": "arbox",
        "hasCredentials": True,
        "hasApiKey": True,
        "hasManagementLogin": True,
        "createdAt": data["createdAt"],
        "keyId": "k1",
        "readable": True,
        "problem": None,
    }


async def test_get_returns_metadata_only_and_no_secret_reaches_a_response_or_log(
    tmp_path: Path, database_url: str
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        before = await client.get(gym.url, headers=gym.headers(Role.ADMIN))
        with structlog.testing.capture_logs() as logs:
            posted = await client.post(
                gym.url,
                json={"apiKey": API_KEY, "email": EMAIL, "password": PASSWORD},
                headers=gym.headers(Role.ADMIN),
            )
            refused = await client.post(
                gym.url,
                json={"apiKey": API_KEY, "email": EMAIL, "password": PASSWORD},
                headers=gym.headers(Role.MEMBER),
            )
            half = await client.post(
                gym.url, json={"email": EMAIL}, headers=gym.headers(Role.OWNER)
            )
            described = await client.get(gym.url, headers=gym.headers(Role.OWNER))

    assert before.status_code == 200
    assert before.json()["data"] == {
        "provider": "arbox",
        "hasCredentials": False,
        "hasApiKey": False,
        "hasManagementLogin": False,
        "createdAt": None,
        "keyId": None,
        "readable": None,
        "problem": None,
    }
    assert [r.status_code for r in (posted, refused, half, described)] == [201, 403, 400, 200]
    assert described.json()["data"] == posted.json()["data"]
    responses = [r.text for r in (posted, refused, half, described)]
    assert not [s for s in SECRETS if any(s in text for text in responses)]
    # Every log line of those requests, every field rendered: no secret in any.
    assert logs, "the requests were logged"
    logged = json.dumps(logs, default=str)
    assert not [s for s in SECRETS if s in logged]
    saved = [line for line in logs if line["event"] == "import_provider_config_saved"]
    assert len(saved) == 1
    assert saved[0]["apis"] == ["business", "management"]
    assert saved[0]["key_id"] == "k1"


@pytest.mark.parametrize("role", [Role.MEMBER, Role.COACH])
async def test_members_and_coaches_get_403(tmp_path: Path, database_url: str, role: Role) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        posted = await client.post(gym.url, json={"apiKey": API_KEY}, headers=gym.headers(role))
        described = await client.get(gym.url, headers=gym.headers(role))
        anonymous = await client.get(gym.url)
        rows = await provider_rows(runtime, gym.org_id)

    assert (posted.status_code, described.status_code) == (403, 403)
    assert posted.json()["detail"] == "Only owners and admins can import data."
    assert anonymous.status_code == 401
    assert rows == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "apiKey"),
        ({"apiKey": "   "}, "apiKey"),
        ({"email": EMAIL}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "not an email", "password": PASSWORD}, "email"),
        ({"apiKey": "k" * 513}, "apiKey"),
        ({"apiKey": 12345}, "apiKey"),
        ({"apiKey": API_KEY, "token": "x"}, "token"),
        ({"apiKey": "a\u0000b"}, "apiKey"),
        (["apiKey"], None),
        ("apiKey", None),
    ],
)
async def test_bad_bodies_are_400s_naming_the_field(
    tmp_path: Path, database_url: str, body: object, field: str | None
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        response = await client.post(gym.url, json=body, headers=gym.headers(Role.OWNER))
        rows = await provider_rows(runtime, gym.org_id)

    assert response.status_code == 400, response.text
    problem = response.json()
    if field is not None:
        fields = {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}
        assert field in fields, problem
    assert not [s for s in SECRETS if s in response.text]
    assert rows == []


async def test_a_body_that_is_not_json_is_a_400(tmp_path: Path, database_url: str) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        response = await client.post(
            gym.url,
            content=b'{"apiKey": "' + API_KEY.encode(),
            headers={**gym.headers(Role.OWNER), "Content-Type": "application/json"},
        )

    assert response.status_code == 400
    assert API_KEY not in response.text


CONCURRENT_POSTS = 20


async def test_concurrent_posts_leave_exactly_one_active_row(
    tmp_path: Path, database_url: str
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, _):
        gym = await make_gym(runtime)
        with served(settings_for(tmp_path, database_url, K1)) as base_url:
            async with http_client(base_url) as client:
                # Two rounds: into an empty table, then over an active row.
                for round_ in range(2):
                    answers = await asyncio.gather(
                        *(
                            client.post(
                                gym.url,
                                json={"apiKey": f"key-{round_}-{n}"},
                                headers=gym.headers(Role.OWNER if n % 2 else Role.ADMIN),
                            )
                            for n in range(CONCURRENT_POSTS)
                        )
                    )
                    assert [a.status_code for a in answers] == [201] * CONCURRENT_POSTS
                    rows = await provider_rows(runtime, gym.org_id)
                    assert len(rows) == CONCURRENT_POSTS * (round_ + 1)
                    assert [row["is_active"] for row in rows].count(True) == 1
        async with runtime.services.uow(read_only=True) as uow:
            active = await uow.provider_configs.get_active(gym.org_id, "arbox")

    assert active is not None
    assert active.id == next(row["id"] for row in rows if row["is_active"])


async def test_another_orgs_owner_gets_403_and_an_unknown_org_404(
    tmp_path: Path, database_url: str
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        other = await make_gym(runtime, "Eilat Rowing")
        stored = await client.post(
            gym.url, json={"apiKey": API_KEY}, headers=gym.headers(Role.OWNER)
        )
        read = await client.get(gym.url, headers=other.headers(Role.OWNER))
        write = await client.post(
            gym.url, json={"apiKey": "intruder"}, headers=other.headers(Role.OWNER)
        )
        unknown = await client.get(
            "/organizations/00000000-0000-4000-8000-000000000000/import/provider-config",
            headers=gym.headers(Role.OWNER),
        )
        rows = await provider_rows(runtime, gym.org_id)

    assert stored.status_code == 201
    assert (read.status_code, write.status_code, unknown.status_code) == (403, 403, 404)
    assert API_KEY not in read.text
    assert [row["is_active"] for row in rows] == [True]
