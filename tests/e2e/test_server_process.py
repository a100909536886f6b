"""The real thing: ``fitdata serve`` as its own process, the demo, real HTTP, a clean stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 15


def _fitdata_command() -> list[str]:
    """The installed console script (next to this interpreter), as a user would run it."""
    beside_python = Path(sys.executable).with_name("fitdata")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("fitdata")
    if found is None:
        pytest.fail("the `fitdata` console script is not installed; run `uv sync`")
    return [found]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(data_dir: Path, port: int) -> dict[str, str]:
    # Embedded mode in a data dir of our own, whatever the developer's shell has set.
    env = {name: value for name, value in os.environ.items() if not name.startswith("FITDATA_")}
    env["FITDATA_DATA_DIR"] = str(data_dir)
    env["FITDATA_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    env["FITDATA_LOG_LEVEL"] = "WARNING"
    return env


def _wait_until_healthy(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"fitdata serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"fitdata serve did not answer /healthz in time:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    port = _free_port()
    env = _environment(tmp_path / "var", port)
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*_fitdata_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log)
        yield base_url, env, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _demo(env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [*_fitdata_command(), "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data: dict[str, Any] = json.loads(completed.stdout)
    return data


def test_serve_demo_http_and_a_clean_stop(
    server: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base_url, env, process = server
    demo = _demo(env)
    org = demo["org_id"]
    tokens = demo["tokens"]

    with httpx.Client(base_url=base_url, timeout=30) as http:

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

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0
