"""Issue 7 items 6 and 13: a fresh data directory is created, private, and what is written
under it stays private; an unusable location is named, not reported as a database outage."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cli_support import run_cli

from fitdata_adapters.cardcom_sandbox.persistence import StateFile
from fitdata_adapters.cardcom_sandbox.store import SandboxState
from fitdata_adapters.clock import SystemClock
from fitdata_adapters.mail.outbox import EmlOutboxMailer
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_core.ports.infrastructure import EmailMessage

pytestmark = pytest.mark.integration

SECRET = "data-dir-tests-jwt-secret-long-enough-000"
UNAVAILABLE = "The database is unavailable"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most systems run services with: files 0644, folders 0755 unless set."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and root itself, as ".") with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _assert_private(root: Path) -> None:
    modes = _modes(root)
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    }
    assert loose == {}, f"not private: {loose}"


def test_a_fresh_data_dir_with_a_jwt_secret_is_created_private(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    fresh = data_dir / "not" / "there" / "yet"
    monkeypatch.setenv("FITDATA_DATA_DIR", str(fresh))
    monkeypatch.setenv("FITDATA_JWT_SECRET", SECRET)

    outcome = run_cli(["migrate"])

    assert outcome.exit_code == 0, outcome.stderr
    assert UNAVAILABLE not in outcome.stderr
    assert (fresh / "fitdata.db").is_file()
    for folder in (data_dir / "not", data_dir / "not" / "there", fresh):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    _assert_private(fresh)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_on_a_fresh_data_dir(data_dir: Path) -> None:
    fresh = data_dir / "brand-new"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITDATA_")}
    env |= {
        "FITDATA_DATA_DIR": str(fresh),
        "FITDATA_JWT_SECRET": SECRET,
        "FITDATA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FITDATA_LOG_LEVEL": "WARNING",
        "FITDATA_BILLING_SCHEDULE_ENABLED": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fitdata_adapters.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert process.poll() is None, process.communicate()[1]
        assert ready is not None
        assert ready.status_code == 200, ready.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert UNAVAILABLE not in stderr
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    _assert_private(fresh)


@pytest.mark.parametrize("where", ["the path itself", "a parent"])
def test_a_file_in_the_way_of_the_data_dir_is_named(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    blocker = data_dir.parent / "a-file"
    blocker.write_text("not a folder")
    target = blocker if where == "the path itself" else blocker / "var"
    monkeypatch.setenv("FITDATA_DATA_DIR", str(target))
    monkeypatch.setenv("FITDATA_JWT_SECRET", SECRET)

    for command in (
        ["migrate"],
        ["serve"],
        ["org", "create", "--name", "G", "--owner-email", "o@x.io"],
    ):
        outcome = run_cli(command)
        assert outcome.exit_code == 2, (command, outcome.stderr)
        assert outcome.stderr.strip() == (
            f"fitdata: error: FITDATA_DATA_DIR cannot be used: {target}: "
            "a file is in the way of a folder."
        )
        assert UNAVAILABLE not in outcome.stderr


def test_without_a_jwt_secret_the_data_dir_is_still_named(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    blocker = data_dir.parent / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FITDATA_DATA_DIR", str(blocker / "var"))

    outcome = run_cli(["migrate"])

    assert outcome.exit_code == 2
    assert "FITDATA_DATA_DIR cannot be used" in outcome.stderr
    assert str(blocker / "var") in outcome.stderr


def test_an_unusable_sqlite_location_names_the_database_url(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    folder_in_the_way = data_dir.parent / "fitdata.db"
    folder_in_the_way.mkdir()
    monkeypatch.setenv("FITDATA_DATABASE_URL", f"sqlite:///{folder_in_the_way}")
    outcome = run_cli(["migrate"])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == (
        f"fitdata: error: FITDATA_DATABASE_URL cannot be used: {folder_in_the_way}: "
        "a folder is in the way of the file."
    )

    blocker = data_dir.parent / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("FITDATA_DATABASE_URL", f"sqlite:///{blocker}/db/fitdata.db")
    outcome = run_cli(["migrate"])
    assert outcome.exit_code == 2
    assert f"FITDATA_DATABASE_URL cannot be used: {blocker}/db:" in outcome.stderr
    assert UNAVAILABLE not in outcome.stderr


def test_an_existing_loose_data_dir_is_tightened_at_start(
    data_dir: Path, loose_umask: None
) -> None:
    (data_dir / "storage" / "exports").mkdir(parents=True, mode=0o755)
    os.chmod(data_dir, 0o755)  # noqa: S103 - the loose mode an old install left
    old_export = data_dir / "storage" / "exports" / "old.csv"
    old_export.write_text("email\r\n")
    os.chmod(old_export, 0o644)
    assert stat.S_IMODE(old_export.stat().st_mode) == 0o644

    outcome = run_cli(["migrate"])

    assert outcome.exit_code == 0, outcome.stderr
    _assert_private(data_dir)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def test_everything_written_under_the_data_dir_is_private(
    data_dir: Path, loose_umask: None
) -> None:
    """The database and its WAL, keys, stored exports, mail and sandbox state, written with a
    umask that would leave them world-readable."""
    outcome = run_cli(["demo", "--members", "5"])
    assert outcome.exit_code == 0, outcome.stderr

    database = data_dir / "fitdata.db"
    # A writer holds the database open, as a running server does: -wal and -shm exist now.
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("UPDATE users SET first_name = first_name")
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert wal.exists()
        assert shm.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert stat.S_IMODE(shm.stat().st_mode) == 0o600

    storage = LocalFolderStorage(
        data_dir / "storage", public_url="http://x", signing_key=b"k" * 32, clock=SystemClock()
    )
    asyncio.run(storage.put_stream("exports/org/job.csv", _one(b"a,b\r\n"), content_type="x"))
    mailer = EmlOutboxMailer(data_dir / "mail-outbox", sender="fitdata <no-reply@x.io>")
    asyncio.run(mailer.send(EmailMessage(to="o@x.io", subject="ready", text="http://link")))
    state = StateFile(data_dir / "cardcom-sandbox")
    try:
        state.save(SandboxState(always_report=False, time_scale=1.0), [])
    finally:
        state.close()

    for expected in (
        "fitdata.db",
        "jwt-secret",
        "storage/exports/org/job.csv",
        "cardcom-sandbox/state.json",
    ):
        assert (data_dir / expected).exists(), expected
    assert list((data_dir / "mail-outbox").glob("*.eml"))
    _assert_private(data_dir)
