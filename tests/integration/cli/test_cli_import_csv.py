"""``fitdata import csv``, embedded (SQLite, local storage folder, the engine run in process):
the detected format and suggested mapping printed, then the import run; no size cap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import run_cli

pytestmark = pytest.mark.integration

HEADER = "Email,First name,Phone,Birthday,Comment\r\n"


def _create_org() -> str:
    outcome = run_cli(["org", "create", "--name", "CSV Gym", "--owner-email", "o@csv-gym.io"])
    assert outcome.exit_code == 0, outcome.stderr
    return outcome.stdout.strip()


def _members_file(path: Path, count: int, *, padding: int = 0) -> Path:
    rows = "".join(
        f"m{i}@gym.example,First{i},541234567,25/12/1990,{'x' * padding}\r\n" for i in range(count)
    )
    path.write_text(HEADER + rows + "not-an-email,Bad,,,\r\n", "utf-8")
    return path


def test_import_csv_prints_the_format_and_mapping_then_runs(tmp_path: Path) -> None:
    org = _create_org()
    # Over the HTTP upload's 5 MB cap: the CLI path has none.
    file = _members_file(tmp_path / "big.csv", 1200, padding=4500)
    assert file.stat().st_size > 5 * 1024 * 1024
    outcome = run_cli(["import", "csv", "--org", org, str(file), "--wait", "--json"])
    assert outcome.exit_code == 0, outcome.stderr
    report = outcome.json()
    assert report["status"] == "completed"
    assert report["results"]["members"]["created"] == 1200
    assert report["results"]["members"]["failed"] == 1
    preview = report["preview"]
    assert preview["detected"]["encoding"] == "utf-8"
    assert preview["detected"]["dateOrder"] == "dd/mm"
    assert preview["suggestedMapping"]["memberFields"] == {
        "Email": "email",
        "First name": "firstName",
        "Phone": "phone",
        "Birthday": "birthDate",
        "Comment": "notes",
    }
    assert preview["totalRows"] == 1201


def test_import_csv_with_a_mapping_file_and_dry_run_plain_output(tmp_path: Path) -> None:
    org = _create_org()
    file = _members_file(tmp_path / "few.csv", 3)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"memberFields": {"Email": "email", "Comment": "notes"}}))
    outcome = run_cli(
        ["import", "csv", "--org", org, str(file), "--mapping", str(mapping), "--dry-run", "--wait"]
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "4 rows; detected: encoding=utf-8, delimiter=,, dateOrder=dd/mm" in outcome.stderr
    assert "memberFields: 'Email' -> email" in outcome.stderr
    assert "completed" in outcome.stdout
    assert "members: created=3" in outcome.stdout
    # The dry run wrote nothing: the real run after it creates every member.
    real = run_cli(["import", "csv", "--org", org, str(file), "--wait", "--json"])
    assert real.exit_code == 0, real.stderr
    assert real.json()["results"]["members"]["created"] == 3


def test_import_csv_refuses_a_bad_mapping_with_the_reason(tmp_path: Path) -> None:
    org = _create_org()
    file = _members_file(tmp_path / "few.csv", 2)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"memberFields": {"Nope": "email"}}))
    outcome = run_cli(["import", "csv", "--org", org, str(file), "--mapping", str(mapping)])
    assert outcome.exit_code == 2
    assert "the file has no column 'Nope'" in outcome.stderr
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    refused = run_cli(["import", "csv", "--org", org, str(binary)])
    assert refused.exit_code == 2
    assert "not a CSV text file" in refused.stderr


def test_sweep_files_deletes_a_finished_imports_file_once_past_its_retention(
    tmp_path: Path, data_dir: Path
) -> None:
    org = _create_org()
    file = _members_file(tmp_path / "few.csv", 2)
    ran = run_cli(["import", "csv", "--org", org, str(file), "--wait", "--json"])
    assert ran.exit_code == 0, ran.stderr
    job_id = ran.json()["jobId"]
    stored = data_dir / "storage" / "imports" / org / job_id / "source.csv"
    assert stored.exists()

    # Today, and 30 days on: inside the retention, nothing is deleted.
    assert run_cli(["import", "sweep-files"]).stdout.strip() == "deleted=0"
    soon = (datetime.now(UTC) + timedelta(days=30) - timedelta(minutes=5)).isoformat()
    assert run_cli(["import", "sweep-files", "--at", soon]).stdout.strip() == "deleted=0"
    assert stored.exists()

    later = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    swept = run_cli(["import", "sweep-files", "--at", later, "--json"])
    assert swept.exit_code == 0, swept.stderr
    report = swept.json()
    assert report["sweep"] == "import_files"
    assert [d["jobId"] for d in report["deleted"]] == [job_id]
    assert report["deleted"][0]["key"] == f"imports/{org}/{job_id}/source.csv"
    assert report["deleted"][0]["deletedAt"] == datetime.fromisoformat(later).isoformat()
    assert not stored.exists()
    status = run_cli(["import", "status", job_id, "--json"])
    assert status.json()["status"] == "completed"
    # Idempotent: played again, nothing is left to delete.
    plain = run_cli(["import", "sweep-files", "--at", later])
    assert plain.stdout.strip() == "deleted=0"


def test_sweep_files_refuses_a_malformed_at_and_a_bad_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad_at = run_cli(["import", "sweep-files", "--at", "next tuesday"])
    assert bad_at.exit_code == 2
    assert "--at must be an ISO-8601 date-time" in bad_at.stderr
    too_early = run_cli(["import", "sweep-files", "--at", "0001-01-02T00:00:00Z"])
    assert too_early.exit_code == 2
    assert "too early to sweep with a retention of 30 days" in too_early.stderr
    monkeypatch.setenv("FITDATA_IMPORT_FILE_RETENTION_DAYS", "0")
    refused = run_cli(["import", "sweep-files"])
    assert refused.exit_code == 2
    assert (
        "fitdata: error: FITDATA_IMPORT_FILE_RETENTION_DAYS must be a positive whole number, "
        "got '0'." in refused.stderr
    )
