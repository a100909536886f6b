"""The Arbox sandbox's wire protocol and its ``/_sandbox`` controls over HTTP, and the
``fitdata sandbox arbox`` command as a process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from fitdata_adapters.arbox import ArboxSource
from fitdata_adapters.arbox_sandbox import ArboxSandbox, SandboxThread
from fitdata_core.ports.providers import SourceCredentials

from .conftest import API_KEY, EMAIL, PASSWORD

pytestmark = pytest.mark.integration


@pytest.fixture
def http(arbox_server: SandboxThread, arbox: ArboxSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=arbox_server.base_url, timeout=10) as client:
        yield client


def test_business_api_envelope_paging_and_its_wrong_next_page_url(http: httpx.Client) -> None:
    assert http.post("/_sandbox/generate", json={"members": 450}).status_code == 200
    answer = http.get(
        "/api/public/v3/users", params={"page": 1, "limit": 100}, headers={"api-key": API_KEY}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["statusCode"] == 200
    assert len(body["data"]) == 100
    pagination = body["extra"]["pagination"]
    assert pagination["results_per_page"] == 100
    assert pagination["results_count"] == 100
    assert pagination["total_pages"] == 4  # 450 members, 387 active
    assert pagination["next_page_url"].startswith("http://")
    assert "?" not in pagination["next_page_url"]
    last = http.get(
        "/api/public/v3/users", params={"page": 4, "limit": 100}, headers={"api-key": API_KEY}
    ).json()
    assert len(last["data"]) == 87
    assert last["extra"]["pagination"]["next_page_url"] is None
    too_big = http.get("/api/public/v3/users?limit=501", headers={"api-key": API_KEY})
    assert too_big.status_code == 422
    assert too_big.json()["statusCode"] == 422
    refused = http.get("/api/public/v3/users", headers={"api-key": "nope"})
    assert refused.status_code == 401
    assert refused.json() == {
        "statusCode": 401,
        "error": "Unauthorized: the api-key header is missing or wrong.",
    }


def test_management_login_token_and_bare_array_reports(http: httpx.Client) -> None:
    http.put(
        "/_sandbox/data",
        json={"active_report": [{"user_fk": 1}], "inactive_report": [{"user_fk": 2}]},
    ).raise_for_status()
    assert http.post("/api/v2/login", json={"email": EMAIL, "password": "x"}).status_code == 401
    token = http.post("/api/v2/login", json={"email": EMAIL.upper(), "password": PASSWORD}).json()[
        "token"
    ]
    path = "/api/manage/v2/reports/activeMembersReport"
    assert http.post(path, json={}, headers={"token": token}).json() == [{"user_fk": 1}]
    assert http.post(path, json={}, headers={"token": "forged"}).status_code == 401
    assert http.post("/_sandbox/sessions/expire").status_code == 200
    assert http.post(path, json={}, headers={"token": token}).status_code == 401


def test_credentials_latency_failures_calls_and_reset_over_http(http: httpx.Client) -> None:
    assert http.put("/_sandbox/credentials", json={"api_key": "new-key"}).json() == {
        "has_api_key": True,
        "has_login": True,
    }
    assert http.get("/api/public/v3/leads", headers={"api-key": API_KEY}).status_code == 401
    assert http.get("/api/public/v3/leads", headers={"api-key": "new-key"}).status_code == 200

    added = http.post(
        "/_sandbox/failures", json={"status": 429, "retry_after": 2, "endpoint": "leads"}
    )
    assert added.status_code == 201
    limited = http.get("/api/public/v3/leads", headers={"api-key": "new-key"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert http.get("/api/public/v3/leads", headers={"api-key": "new-key"}).status_code == 200

    http.put("/_sandbox/latency", json={"ms": 200}).raise_for_status()
    started = time.monotonic()
    http.get("/api/public/v3/membershipTypes", headers={"api-key": "new-key"})
    assert time.monotonic() - started >= 0.2

    calls = http.get("/_sandbox/calls").json()["calls"]
    assert [(c["endpoint"], c["status"], c["injected"]) for c in calls] == [
        ("leads", 401, False),
        ("leads", 200, False),
        ("leads", 429, True),
        ("leads", 200, False),
        ("membershipTypes", 200, False),
    ]
    assert "new-key" not in str(calls)

    assert http.post("/_sandbox/reset").status_code == 200
    assert http.get("/_sandbox/calls").json() == {"calls": []}
    assert http.get("/api/public/v3/leads", headers={"api-key": API_KEY}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_sandbox/failures", {"status": 200}),
        ("POST", "/_sandbox/failures", {"status": 500, "endpoint": "nowhere"}),
        ("POST", "/_sandbox/failures", {"status": 500, "count": 0}),
        ("PUT", "/_sandbox/latency", {"ms": -1}),
        ("PUT", "/_sandbox/data", {"users": "not a list"}),
        ("PUT", "/_sandbox/data", {"members": []}),
        ("POST", "/_sandbox/generate", {"members": -3}),
        ("PUT", "/_sandbox/credentials", {"api_key": 5}),
    ],
)
def test_bad_control_input_is_a_400(
    http: httpx.Client, method: str, path: str, body: dict[str, object]
) -> None:
    answer = http.request(method, path, json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]


COMMAND = (sys.executable, "-m", "fitdata_adapters.cli", "sandbox", "arbox")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_fitdata_sandbox_arbox_serves_a_generated_gym() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*COMMAND, "--port", str(port), "--members", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_sandbox", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)

        async def fetch() -> int:
            credentials = SourceCredentials(
                email="owner@arbox-sandbox.example.com", password="arbox-sandbox-password"
            )
            async with ArboxSource(base_url=base) as source:
                return sum([len(page) async for page in source.fetch_members(credentials)])

        assert asyncio.run(fetch()) == 120
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert f"Arbox sandbox on http://127.0.0.1:{port}" in stderr.decode()


def test_fitdata_sandbox_arbox_on_a_busy_port_fails_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--port", str(port)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}".encode() in result.stderr
