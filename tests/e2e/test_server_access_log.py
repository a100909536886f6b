"""No secret from a query string reaches the server's log (issue 7, item 3).

A real ``fitdata serve`` logs at INFO to a file; a members export is downloaded through its
signed link, and the Cardcom return page is opened with a ``lowprofilecode``. The log then
holds the service's own request lines, with the query values redacted, and no line from
uvicorn's access log (which wrote the full URL, signature included, as plain text).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from e2e_server import (
    STOP_TIMEOUT_SECONDS,
    Server,
    environment,
    fitdata_command,
    free_port,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e

JOB_TIMEOUT_SECONDS = 120


@pytest.fixture
def verbose_server(tmp_path: Path) -> Iterator[Server]:
    """``fitdata serve`` logging every request (INFO), its output captured in a file."""
    port = free_port()
    env = environment(tmp_path / "var", port)
    env["FITDATA_LOG_LEVEL"] = "INFO"
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*fitdata_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log)
        yield Server(base_url, env, process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _demo(server: Server) -> tuple[str, str]:
    completed = subprocess.run(
        [*fitdata_command(), "demo", "--members", "5", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    return data["org_id"], data["tokens"]["owner"]


def _download_url(http: httpx.Client, org: str) -> str:
    started = http.post(f"/organizations/{org}/export/members", json={})
    assert started.status_code == 202, started.text
    job_id = started.json()["data"]["jobId"]
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job = http.get(f"/organizations/{org}/export/jobs/{job_id}").json()["data"]
        if job["status"] == "completed":
            url: str = job["downloadUrl"]
            return url
        assert job["status"] != "failed", job
        time.sleep(0.25)
    pytest.fail(f"export job {job_id} did not finish within {JOB_TIMEOUT_SECONDS}s")


def test_the_server_log_holds_no_signature_or_payment_reference(verbose_server: Server) -> None:
    org, owner_token = _demo(verbose_server)
    reference = str(uuid.uuid4())
    with httpx.Client(
        base_url=verbose_server.base_url,
        headers={"Authorization": f"Bearer {owner_token}"},
        timeout=30,
    ) as http:
        link = _download_url(http, org)
        signature = parse_qs(urlsplit(link).query)["sig"][0]
        downloaded = httpx.get(link, timeout=30)
        returned = httpx.get(
            f"{verbose_server.base_url}/billing/checkout-return",
            params={"lowprofilecode": reference},
            timeout=30,
        )
        listed = http.get(f"/organizations/{org}/members", params={"limit": 5})

    assert downloaded.status_code == 200
    assert downloaded.content.count(b"\n") >= 2  # a header and at least the owner
    assert returned.status_code in (200, 400, 404)
    assert listed.status_code == 200
    verbose_server.process.send_signal(signal.SIGTERM)
    assert verbose_server.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0

    log = verbose_server.log.read_text(errors="replace")
    assert signature not in log
    assert owner_token not in log
    # The LowProfile id is only in the return page's own event line, where the billing
    # runbook needs it to find the payment at Cardcom; never in a request line.
    request_lines = [line for line in log.splitlines() if " request " in line]
    assert request_lines
    assert not [line for line in request_lines if reference in line]
    # The service's own request lines are there, names kept and secret values redacted ...
    assert "sig=REDACTED" in log
    assert "lowprofilecode=REDACTED" in log
    assert "limit=5" in log
    # ... and uvicorn's access log is not: it would have written `"GET /files/... HTTP/1.1"`.
    assert "HTTP/1.1" not in log
