"""``Idempotency-Key`` on the member export (HTTP, memory adapters): a retry gets the first
answer and queues nothing more; another body under the same key is 422; bad keys are 400;
failures are not remembered."""

from __future__ import annotations

from typing import Any

import pytest
from http_support import Gym, bearer
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_core.services import Services
from fitdata_http.idempotency import REPLAYED_HEADER

Client = AsyncTestClient[Litestar]
KEY = "5d0c2b8e-8c1f-4a57-9a3e-0f6c1e2d3b4a"


def _export(gym: Gym) -> str:
    return f"/organizations/{gym.org_id}/export/members"


async def _job_count(services: Services, org_id: str) -> int:
    async with services.uow(read_only=True) as uow:
        page = await uow.export_jobs.list_for_org(org_id, limit=100, offset=0)
    return page.total


def _keyed(user_id: str, key: str = KEY, **more: str) -> dict[str, str]:
    return {**bearer(user_id), "Idempotency-Key": key, **more}


async def test_a_retry_gets_the_first_answer_and_queues_one_job(
    client: Client, gym: Gym, services: Services
) -> None:
    first = await client.post(_export(gym), json={"roles": ["member"]}, headers=_keyed(gym.owner))
    # The same body, written differently: key order and spacing do not matter.
    retry = await client.post(
        _export(gym),
        content=b'{ "roles" : ["member"] }',
        headers=_keyed(gym.owner, **{"Content-Type": "application/json"}),
    )

    assert first.status_code == 202, first.text
    assert REPLAYED_HEADER.lower() not in first.headers
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert await _job_count(services, gym.org_id) == 1


async def test_without_a_key_every_request_does_the_work(
    client: Client, gym: Gym, services: Services
) -> None:
    answers = [await client.post(_export(gym), json={}, headers=bearer(gym.owner)) for _ in "ab"]

    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() != answers[1].json()
    assert await _job_count(services, gym.org_id) == 2


@pytest.mark.parametrize(
    ("second_body", "second_user"),
    [({"roles": ["coach"]}, "owner"), ({"roles": ["member"]}, "admin")],
    ids=["another-body", "another-caller"],
)
async def test_the_same_key_for_another_request_is_422(
    client: Client, gym: Gym, services: Services, second_body: dict[str, Any], second_user: str
) -> None:
    await client.post(_export(gym), json={"roles": ["member"]}, headers=_keyed(gym.owner))

    reused = await client.post(
        _export(gym), json=second_body, headers=_keyed(getattr(gym, second_user))
    )

    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _job_count(services, gym.org_id) == 1


async def test_a_refused_request_is_not_remembered(
    client: Client, gym: Gym, services: Services
) -> None:
    refused = await client.post(_export(gym), json={"roles": ["wizard"]}, headers=_keyed(gym.owner))
    forbidden = await client.post(_export(gym), json={}, headers=_keyed(gym.member, "k2"))
    # The same keys now do the work: nothing was stored for the failures.
    fixed = await client.post(_export(gym), json={"roles": ["member"]}, headers=_keyed(gym.owner))
    other = await client.post(_export(gym), json={}, headers=_keyed(gym.owner, "k2"))

    assert (refused.status_code, forbidden.status_code) == (400, 403)
    assert (fixed.status_code, other.status_code) == (202, 202)
    assert await _job_count(services, gym.org_id) == 2


@pytest.mark.parametrize("key", ["x" * 256, "a key with spaces"])
async def test_a_malformed_key_is_400(client: Client, gym: Gym, key: str) -> None:
    response = await client.post(_export(gym), json={}, headers=_keyed(gym.owner, key))

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_openapi_document_declares_the_header(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/organizations/{orgId}/export/members",
        "/organizations/{orgId}/billing/checkout",
    ):
        parameters = document["paths"][path]["post"]["parameters"]
        header = next(p for p in parameters if p["name"] == "Idempotency-Key")
        assert header["in"] == "header"
        assert header["required"] is False
        assert header["schema"]["maxLength"] == 255
