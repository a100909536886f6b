"""``FITDATA_MODE`` through the command line: production processes refuse to start without
their real providers; ``fitdata serve`` says which mode it runs in and what it talks to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import run_cli

pytestmark = pytest.mark.integration

EVERY_MISSING = (
    "FITDATA_DATABASE_URL",
    "FITDATA_REDIS_URL",
    "FITDATA_CARDCOM_BASE_URL",
    "FITDATA_SMTP_URL",
    "FITDATA_S3_BUCKET",
    "FITDATA_CREDENTIAL_KEYS",
    "FITDATA_JWT_SECRET",
)


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["scheduler"]])
def test_a_production_process_refuses_to_start_naming_every_missing_setting(
    command: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITDATA_MODE", "production")

    outcome = run_cli(command)

    assert outcome.exit_code != 0
    assert outcome.stderr.count("fitdata: error:") == 1
    for variable in EVERY_MISSING:
        assert variable in outcome.stderr
    # Nothing was started or written: no database, no sandbox state, no key file.
    assert not data_dir.exists()


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["scheduler"]])
def test_a_database_url_alone_means_production(
    command: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITDATA_DATABASE_URL", f"sqlite:///{data_dir / 'fitdata.db'}")

    outcome = run_cli(command)

    assert outcome.exit_code != 0
    assert "FITDATA_DATABASE_URL" not in outcome.stderr
    for variable in EVERY_MISSING[1:]:
        assert variable in outcome.stderr
    assert not (data_dir / "cardcom-sandbox").exists()
    assert not (data_dir / "fitdata.db").exists()


def test_an_unknown_mode_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITDATA_MODE", "staging")

    outcome = run_cli(["serve"])

    assert outcome.exit_code == 2
    assert "FITDATA_MODE must be embedded or production" in outcome.stderr


def _fitdata() -> list[str]:
    beside_python = Path(sys.executable).with_name("fitdata")
    return [str(beside_python)] if beside_python.exists() else ["fitdata"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_prints_its_mode_and_connections_with_secrets_redacted(data_dir: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FITDATA_")}
    env |= {
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_LOG_LEVEL": "WARNING",
        # Configured but never dialled at start-up; its password must not be printed.
        "FITDATA_SMTP_URL": "smtp://mailer:smtp-hunter2@127.0.0.1:2525",
    }
    log = data_dir.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_fitdata(), "serve", "--port", str(_free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "credential keys" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log.read_text()

    assert "in embedded mode" in text
    assert "SMTP smtp://***@127.0.0.1:2525" in text
    assert "embedded Cardcom sandbox" in text
    assert "in-process worker" in text
    assert "smtp-hunter2" not in text
