"""An embedded ``fitdata serve`` (SQLite, local folders, outbox mail, in-process worker)
imports only what its adapters use: every module a process loads is paid for on every start,
and ``serve`` must answer ``/readyz`` within two seconds.

The server runs in a fresh interpreter that writes ``sys.modules`` out as it exits, after it
has started, answered ``/readyz`` 200 and been stopped: everything a real start loads, not
only what its modules import at the top.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_support import run_cli

pytestmark = pytest.mark.integration

# What an embedded server has no use for, and who used to bring it in:
NOT_FOR_EMBEDDED = {
    "psycopg": "the Postgres driver (the member CSV engine's COPY path)",
    "psycopg_binary": "the Postgres driver's C part",
    "pydantic": "Litestar's pydantic plugins, registered whenever pydantic is installed",
    "pydantic_core": "pydantic's core",
    "aiosmtplib": "the SMTP mailer (embedded mail goes to the outbox folder)",
    "alembic": "the migration machinery (nothing to migrate on a restart)",
    "mako": "alembic's templates",
    "aioboto3": "the S3 storage adapter",
    "botocore": "the S3 storage adapter",
    "redis": "the Redis queue and rate limiter",
    "dramatiq": "the Redis queue's workers",
}
# What it does use: proof that the list below is the server's, not an empty one.
USED = {"litestar", "uvicorn", "sqlalchemy", "aiosqlite", "fitdata_workers"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _modules_of_a_served_start(data_dir: Path) -> set[str]:
    """The top-level packages a ``fitdata serve`` had loaded by the time it exited after
    answering ``/readyz`` 200."""
    port = _free_port()
    listing = data_dir.parent / "modules.txt"
    script = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(
            lambda: open({str(listing)!r}, "w").write("\\n".join(sorted(sys.modules)))
        )
        sys.argv = ["fitdata", "serve", "--port", "{port}"]
        from fitdata_adapters.cli import main
        main()
        """
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("FITDATA_")}
    env |= {"FITDATA_DATA_DIR": str(data_dir), "FITDATA_LOG_LEVEL": "WARNING"}
    log = data_dir.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while not _ready(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not answer /readyz 200 in 90 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log.read_text()
    return {name.split(".")[0] for name in listing.read_text().split()}


def test_an_embedded_serve_loads_only_what_its_adapters_use(data_dir: Path) -> None:
    # The everyday restart: the database is already at the head revision.
    assert run_cli(["migrate"]).exit_code == 0

    loaded = _modules_of_a_served_start(data_dir)

    assert loaded >= USED
    unneeded = {name: why for name, why in NOT_FOR_EMBEDDED.items() if name in loaded}
    assert unneeded == {}
