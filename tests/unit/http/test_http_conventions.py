"""App-wide conventions: problem details, unexpected errors, request logging, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from http_support import Gym, bearer, make_runtime, token
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.memory import MemoryErrorReporter
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_core.errors import ConfigurationError, RateLimited
from fitdata_http import create_app
from fitdata_http.envelope import Envelope
from fitdata_http.request_log import redacted_query

Client = AsyncTestClient[Litestar]

SECRET_TEXT = "password=hunter2 at postgresql://admin:s3cr3t@db.internal/prod"


@get("/test/boom", sync_to_thread=False)
def boom() -> Envelope:
    raise RuntimeError(SECRET_TEXT)


@get("/test/misconfigured", sync_to_thread=False)
def misconfigured() -> Envelope:
    raise ConfigurationError("FITDATA_SECRET_THING must be set (was 'abc123')")


@get("/test/slow-down", sync_to_thread=False)
def slow_down() -> Envelope:
    raise RateLimited("Too many exports; try again later.", retry_after=42)


@pytest.fixture
async def runtime_with_extras(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = make_runtime(tmp_path)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def extra_client(runtime_with_extras: Runtime) -> AsyncIterator[Client]:
    app = create_app(runtime_with_extras, extra_route_handlers=[boom, misconfigured, slow_down])
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_a_problem_has_the_rfc_9457_shape(client: Client, gym: Gym) -> None:
    response = await client.get(gym.members_url, headers=bearer(gym.member))

    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": "urn:fitdata:problem:forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "Your role in this organization does not allow this.",
        "code": "FORBIDDEN",
        "requestId": response.headers["x-request-id"],
    }


async def test_an_unknown_path_is_a_404_problem(client: Client) -> None:
    response = await client.get("/no/such/thing")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Nothing is served at this path."


async def test_a_wrong_method_is_a_405_problem(client: Client, gym: Gym) -> None:
    response = await client.delete(gym.members_url, headers=bearer(gym.owner))

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 405


async def test_an_unexpected_error_is_a_500_that_leaks_nothing(
    extra_client: Client, runtime_with_extras: Runtime
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await extra_client.get("/test/boom")

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert body["detail"] == (
        "An unexpected error occurred. Quote the request id when reporting it."
    )
    for leak in ("hunter2", "s3cr3t", "RuntimeError", "Traceback", "db.internal"):
        assert leak not in response.text
    # ...but it is logged with the request id and reported.
    request_id = response.headers["x-request-id"]
    error_lines = [line for line in logs if line["event"] == "unhandled_error"]
    assert error_lines
    assert error_lines[0]["request_id"] == request_id
    assert error_lines[0]["error"] == "RuntimeError"
    reporter = runtime_with_extras.services.errors
    assert isinstance(reporter, MemoryErrorReporter)
    assert [r.context["request_id"] for r in reporter.reports] == [request_id]


async def test_a_configuration_error_is_a_generic_500(extra_client: Client) -> None:
    response = await extra_client.get("/test/misconfigured")

    assert response.status_code == 500
    assert "FITDATA_SECRET_THING" not in response.text
    assert "abc123" not in response.text


async def test_rate_limited_is_429_with_retry_after(extra_client: Client) -> None:
    response = await extra_client.get("/test/slow-down")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "42"
    assert response.json()["detail"] == "Too many exports; try again later."


async def test_every_request_is_logged_once_without_the_authorization_header(
    client: Client, gym: Gym
) -> None:
    jwt = token(gym.owner)
    with structlog.testing.capture_logs() as logs:
        response = await client.get(
            gym.members_url + "?role=owner", headers={"Authorization": f"Bearer {jwt}"}
        )

    lines = [line for line in logs if line["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["path"] == gym.members_url
    assert line["query"] == "role=owner"
    assert line["status"] == 200
    assert line["request_id"] == response.headers["x-request-id"]
    assert isinstance(line["duration_ms"], float)
    assert jwt not in repr(logs)
    assert "owner@gym.io" not in repr(logs)  # bodies stay out


async def test_failed_and_unrouted_requests_are_logged_with_their_status(
    client: Client,
) -> None:
    with structlog.testing.capture_logs() as logs:
        await client.get("/nowhere")
        await client.get("/organizations/x/members")

    assert [(line["path"], line["status"]) for line in logs if line["event"] == "request"] == [
        ("/nowhere", 404),
        ("/organizations/x/members", 401),
    ]


async def test_a_plain_caller_request_id_is_echoed_and_a_forged_one_replaced(
    client: Client,
) -> None:
    plain = await client.get("/healthz", headers={"X-Request-ID": "abc-123-def"})
    forged = await client.get("/healthz", headers={"X-Request-ID": "x\nlevel=error fake=1"})

    assert plain.headers["x-request-id"] == "abc-123-def"
    assert forged.headers["x-request-id"] != "x\nlevel=error fake=1"
    assert len(forged.headers["x-request-id"]) == 32


async def test_the_openapi_schema_is_served(client: Client) -> None:
    page = await client.get("/schema")
    document = await client.get("/schema/openapi.json")

    assert page.status_code == 200
    assert document.status_code == 200
    spec = document.json()
    assert spec["info"]["title"] == "fitdata"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An HS256 JWT whose `sub` is the user id.",
    }
    members = spec["paths"]["/organizations/{orgId}/members"]["get"]
    assert members["security"] == [{"bearerAuth": []}]
    assert {p["name"] for p in members["parameters"]} >= {"orgId", "role", "status", "limit"}
    assert "security" not in spec["paths"]["/healthz"]["get"]
    assert "/organizations/{orgId}/courses" in spec["paths"]
    new_plan = spec["paths"]["/organizations/{orgId}/plans"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert new_plan["title"] == "NewPlan"
    assert set(new_plan["properties"]) == {
        "name",
        "kind",
        "price",
        "sessionCount",
        "validityDays",
    }
    assert new_plan["required"] == ["name", "kind", "price"]
    assert new_plan["properties"]["kind"]["enum"] == ["membership", "class_pack"]
    assert new_plan["additionalProperties"] is False


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        (b"", None),
        (b"limit=5&offset=10", "limit=5&offset=10"),
        (
            b"expires=1767225600&sig=0f3a9c&name=members.csv",
            "expires=REDACTED&sig=REDACTED&name=REDACTED",
        ),
        (
            b"lowprofilecode=6f1c2a4e-1111&tab=revenue-summary",
            "lowprofilecode=REDACTED&tab=revenue-summary",
        ),
        (b"token=eyJhbGciOiJIUzI1NiJ9.x.y", "token=REDACTED"),
        (b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "REDACTED=REDACTED"),
        (b"role=owner&role=admin&password=hunter2", "role=owner&role=admin&password=REDACTED"),
        (b"&".join(b"a=1" for _ in range(25)), "&".join(["a=REDACTED"] * 20 + ["..."])),
    ],
)
def test_query_values_are_redacted_unless_known_to_be_harmless(
    query: bytes, logged: str | None
) -> None:
    assert redacted_query(query) == logged


async def test_a_signed_download_is_logged_without_its_signature(
    client: Client, runtime: Runtime
) -> None:
    storage = runtime.services.storage
    assert isinstance(storage, LocalFolderStorage)
    await storage.put_stream("exports/x/report.csv", _chunks(b"a,b\r\n"), content_type="text/csv")
    link = await storage.signed_url("exports/x/report.csv", expires_in=timedelta(hours=1))
    signature = parse_qs(urlsplit(link).query)["sig"][0]

    with structlog.testing.capture_logs() as logs:
        response = await client.get(urlsplit(link).path + "?" + urlsplit(link).query)

    assert response.status_code == 200
    lines = [line for line in logs if line["event"] == "request"]
    assert lines[0]["query"].startswith("expires=REDACTED&sig=REDACTED")
    assert signature not in repr(logs)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
