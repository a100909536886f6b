"""Bodies the JSON parser cannot read: 401 first for API routes, then a 400 naming the body;
never a 500, never a report to the error reporter (issue 7, item 8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import structlog
from http_support import Gym, bearer
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.memory.infrastructure import MemoryErrorReporter
from fitdata_core.errors import InvalidInput
from fitdata_core.services import Services
from fitdata_http.bodies import MAX_JSON_DEPTH, decode_json_body

Client = AsyncTestClient[Litestar]

DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
NOT_UTF8 = b'{"name": "\xff\xfe caf\xe9"}'
NOT_JSON = b'{"name": "Monthly",'

# (body, code): what each unreadable body is answered with.
UNREADABLE = [
    pytest.param(DEEP_ARRAY, "BODY_TOO_DEEP", id="1000-nested-arrays"),
    pytest.param(DEEP_OBJECT, "BODY_TOO_DEEP", id="1000-nested-objects"),
    pytest.param(NOT_UTF8, "MALFORMED_BODY", id="invalid-utf8"),
    pytest.param(NOT_JSON, "MALFORMED_JSON", id="bad-json"),
]
JSON = {"Content-Type": "application/json"}


def _api_routes(gym: Gym) -> list[str]:
    base = f"/organizations/{gym.org_id}"
    return [f"{base}/plans", f"{base}/billing/checkout", f"{base}/export/members"]


def _assert_unreadable(response: Any, code: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["field"] == "body"
    assert body["detail"].startswith("The request body ")


def _no_reports(services: Services) -> None:
    assert isinstance(services.errors, MemoryErrorReporter)
    assert services.errors.reports == []


@pytest.mark.parametrize(("raw", "code"), UNREADABLE)
async def test_the_webhook_answers_an_unreadable_body_with_400(
    client: Client, services: Services, raw: bytes, code: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.post("/webhooks/cardcom", content=raw, headers=JSON)

    _assert_unreadable(response, code)
    _no_reports(services)
    assert not [line for line in logs if line["log_level"] == "error"]


async def test_the_webhook_refuses_a_form_body_that_is_not_utf8(client: Client) -> None:
    response = await client.post(
        "/webhooks/cardcom",
        content=b"lowprofilecode=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    _assert_unreadable(response, "MALFORMED_BODY")


async def test_the_webhook_still_ignores_a_json_value_that_is_not_an_object(
    client: Client,
) -> None:
    response = await client.post("/webhooks/cardcom", content=b"[1, 2]", headers=JSON)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}


@pytest.mark.parametrize(("raw", "code"), UNREADABLE)
async def test_an_anonymous_unreadable_body_is_401_before_anything_is_parsed(
    client: Client, services: Services, gym: Gym, raw: bytes, code: str
) -> None:
    del code
    for route in _api_routes(gym):
        response = await client.post(route, content=raw, headers=JSON)

        assert response.status_code == 401, (route, response.text)
        assert response.json()["code"] == "UNAUTHENTICATED"
    _no_reports(services)


@pytest.mark.parametrize(("raw", "code"), UNREADABLE)
async def test_an_authenticated_unreadable_body_is_400_naming_the_body(
    client: Client, services: Services, gym: Gym, raw: bytes, code: str
) -> None:
    for route in _api_routes(gym):
        response = await client.post(route, content=raw, headers={**JSON, **bearer(gym.owner)})

        _assert_unreadable(response, code)
    _no_reports(services)


async def test_a_forged_token_with_an_unreadable_body_is_still_401(
    client: Client, gym: Gym
) -> None:
    response = await client.post(
        f"/organizations/{gym.org_id}/plans",
        content=DEEP_ARRAY,
        headers={**JSON, "Authorization": "Bearer not-a-jwt"},
    )

    assert response.status_code == 401


# -- the decoder itself -------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused() -> None:
    assert decode_json_body(_nested(MAX_JSON_DEPTH)) is not None

    with pytest.raises(InvalidInput) as caught:
        decode_json_body(_nested(MAX_JSON_DEPTH + 1))
    assert caught.value.code == "BODY_TOO_DEEP"
    assert caught.value.field == "body"


def test_json_numbers_keep_the_exact_value_written() -> None:
    value = decode_json_body(b'{"a": 19.9, "b": 1e-400, "c": 7}')

    assert value == {"a": Decimal("19.9"), "b": Decimal("1E-400"), "c": 7}
    assert isinstance(value["c"], int)
