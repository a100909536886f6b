"""The members export's emailed download link works when pasted into a real browser.

``fitdata serve`` runs in embedded mode: the export job runs in-process, the file lands in
local storage and the "Your export is ready" mail in ``<data dir>/mail-outbox``. The link in
that mail is a signed ``/files/...`` URL (no token); Chromium follows it and gets a CSV
download with a sensible file name. An altered link is refused.
"""

from __future__ import annotations

import csv
import email
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_server import Server
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

JOB_TIMEOUT_SECONDS = 120


def _wait_for_job(http: httpx.Client, org: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = http.get(f"/organizations/{org}/export/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()["data"]
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.25)
    pytest.fail(f"export job {job_id} did not finish within {JOB_TIMEOUT_SECONDS}s")


def _ready_mail(outbox: Path) -> EmailMessage:
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        if message["Subject"] == "Your export is ready":
            return message
    pytest.fail(f"no 'Your export is ready' mail in {outbox}")


def test_the_emailed_export_link_downloads_the_csv_in_a_browser(
    page: Page, screenshot: Callable[[str], Path], tmp_path: Path, server: Server
) -> None:
    demo = server.demo()
    org = demo["org_id"]
    headers = {"Authorization": f"Bearer {demo['tokens']['admin']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        started = http.post(f"/organizations/{org}/export/members", json={})
        assert started.status_code == 202, started.text
        job = _wait_for_job(http, org, started.json()["data"]["jobId"])
    assert job["status"] == "completed", job
    assert job["rowCount"] >= 300

    body = _ready_mail(Path(server.env["FITDATA_DATA_DIR"]) / "mail-outbox").get_body(("plain",))
    assert body is not None
    links = re.findall(r"https?://\S+", body.get_content())
    assert len(links) == 1, links
    link = links[0]
    assert link.startswith(f"{server.base_url}/files/")

    # Pasting the link into the address bar: the navigation turns into a download.
    # Chromium reports the download as an aborted navigation.
    with (
        page.expect_download() as started_download,
        pytest.raises(PlaywrightError, match=r"Download is starting|ERR_ABORTED"),
    ):
        page.goto(link)
    download = started_download.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == job["rowCount"]
    assert all("@" in row["Email"] for row in rows)

    # A link whose signature was tampered with shows a refusal, not the file.
    refused = page.goto(re.sub(r"sig=[^&]+", "sig=forged", link))
    assert refused is not None
    assert refused.status == 403
    expect(page.locator("body")).to_contain_text("This download link is invalid or has expired")
    # ... as a page a person can read, saying how to get a fresh link.
    expect(page.locator("h1")).to_have_text("This link has expired")
    expect(page.locator("body")).to_contain_text("fresh link")
    screenshot("altered-link-refused")
