"""The real thing: ``fitdata serve`` as its own process, the demo, real HTTP, a clean stop."""

from __future__ import annotations

import signal

import httpx
import pytest
from e2e_server import STOP_TIMEOUT_SECONDS, Server

pytestmark = pytest.mark.e2e


def test_serve_demo_http_and_a_clean_stop(server: Server) -> None:
    demo = server.demo()
    org = demo["org_id"]
    tokens = demo["tokens"]

    with httpx.Client(base_url=server.base_url, timeout=30) as http:

        def get(path: str, role: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
            return http.get(f"/organizations/{org}{path}", headers=headers)

        for role in ("owner", "admin", "coach"):
            response = get("/members", role)
            assert response.status_code == 200, (role, response.text)
            assert response.json()["meta"]["total"] >= 300
        assert get("/members", "member").status_code == 403
        plans = get("/plans", "member")
        assert plans.status_code == 200
        assert {plan["name"] for plan in plans.json()["data"]} >= {"Unlimited Monthly"}
        assert get("/members", None).status_code == 401
        assert get("/plans", None).status_code == 401

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0
