"""Every CLI test runs embedded (SQLite, no Redis) in a data dir of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        # FITDATA_TEST_* say where the test services are; everything else is the app's.
        if name.startswith("FITDATA_") and not name.startswith("FITDATA_TEST_"):
            monkeypatch.delenv(name)
    directory = tmp_path / "var"
    monkeypatch.setenv("FITDATA_DATA_DIR", str(directory))
    monkeypatch.setenv("FITDATA_LOG_LEVEL", "WARNING")
    return directory


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    # The CLI configures structlog to print to sys.stderr, which under CliRunner is a capture
    # stream closed after the command; later tests must not log into it.
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)
