"""Starting the real ``fitdata serve`` process, and the demo a newcomer runs against it.

Embedded mode (SQLite, in-process worker, the embedded Cardcom sandbox) in a data dir of the
test's own, on a free port. ``conftest.py`` turns this into the ``server`` fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 15


def fitdata_command() -> list[str]:
    """The installed console script (next to this interpreter), as a user would run it."""
    beside_python = Path(sys.executable).with_name("fitdata")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("fitdata")
    if found is None:
        pytest.fail("the `fitdata` console script is not installed; run `uv sync`")
    return [found]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(data_dir: Path, port: int) -> dict[str, str]:
    # Embedded mode in a data dir of our own, whatever the developer's shell has set.
    env = {name: value for name, value in os.environ.items() if not name.startswith("FITDATA_")}
    env["FITDATA_DATA_DIR"] = str(data_dir)
    env["FITDATA_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    env["FITDATA_LOG_LEVEL"] = "WARNING"
    return env


def wait_until_healthy(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
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


@dataclass(frozen=True)
class Server:
    """A running ``fitdata serve``: where it listens, its environment, the process, its log."""

    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def demo(self) -> dict[str, Any]:
        """``fitdata demo --json`` against this server's data dir: org id and a token per role."""
        completed = subprocess.run(
            [*fitdata_command(), "demo", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        data: dict[str, Any] = json.loads(completed.stdout)
        return data


def find_chromium() -> str | None:
    """``FITDATA_TEST_CHROMIUM`` if set (and it must exist), else Chromium from PATH."""
    configured = os.environ.get("FITDATA_TEST_CHROMIUM", "").strip()
    if configured:
        found = shutil.which(configured)
        if found is None:
            pytest.fail(f"FITDATA_TEST_CHROMIUM={configured!r} is not an executable")
        return found
    return shutil.which("chromium") or shutil.which("chromium-browser")
