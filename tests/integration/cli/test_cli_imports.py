"""``fitdata import arbox`` and ``fitdata import status``, embedded (SQLite, no Redis).

Without ``FITDATA_ARBOX_BASE_URL`` the member source is the in-process Arbox sandbox (its
1,500 generated members), so both a refused key and the demo's stored credentials run the
whole path (start, the engine run in process, the report and the exit code) without a network.
"""

from __future__ import annotations

import pytest
from cli_support import run_cli

pytestmark = pytest.mark.integration


def _create_org() -> str:
    outcome = run_cli(["org", "create", "--name", "Import Gym", "--owner-email", "o@gym.io"])
    assert outcome.exit_code == 0, outcome.stderr
    return outcome.stdout.strip()


def test_import_without_credentials_is_refused_with_the_reason() -> None:
    org = _create_org()
    outcome = run_cli(["import", "arbox", "--org", org])
    assert outcome.exit_code == 2
    assert "No Arbox credentials" in outcome.stderr


def test_import_queues_then_waits_and_reports_a_failed_job_with_exit_1() -> None:
    org = _create_org()
    queued = run_cli(["import", "arbox", "--org", org, "--api-key", "k-secret", "--json"])
    assert queued.exit_code == 0, queued.stderr
    job_id = queued.json()["jobId"]

    busy = run_cli(["import", "arbox", "--org", org, "--api-key", "k-secret"])
    assert busy.exit_code == 2
    assert "Active import already exists" in busy.stderr

    status = run_cli(["import", "status", job_id, "--json"])
    assert status.exit_code == 0
    assert status.json()["status"] == "pending"

    unknown = run_cli(["import", "status", "no-such-job"])
    assert unknown.exit_code == 2


def test_wait_runs_the_engine_here_and_exits_1_when_the_job_fails() -> None:
    org = _create_org()
    outcome = run_cli(
        ["import", "arbox", "--org", org, "--api-key", "k-secret", "--members", "--wait", "--json"]
    )
    assert outcome.exit_code == 1, outcome.stderr
    report = outcome.json()
    assert report["status"] == "failed"
    # Embedded without FITDATA_ARBOX_BASE_URL: the in-process Arbox sandbox refuses the key.
    assert "401" in report["errorMessage"]
    assert "k-secret" not in outcome.stdout + outcome.stderr
    assert "k-secret" not in outcome.stdout + outcome.stderr


def test_after_the_demo_an_import_with_the_stored_credentials_brings_the_sandbox_gym() -> None:
    """The newcomer's path: ``fitdata demo``, then ``fitdata import arbox --org ID --wait``."""
    demo = run_cli(["demo", "--members", "5", "--json"])
    assert demo.exit_code == 0, demo.stderr
    org = demo.json()["org_id"]
    outcome = run_cli(
        ["import", "arbox", "--org", org, "--members", "--no-enrich", "--wait", "--json"]
    )
    assert outcome.exit_code == 0, outcome.stderr
    report = outcome.json()
    assert report["status"] == "completed", report
    assert report["results"]["members"]["created"] == 1499
    assert report["results"]["members"]["failed"] == 1
    assert "arbox-sandbox-password" not in outcome.stdout + outcome.stderr
