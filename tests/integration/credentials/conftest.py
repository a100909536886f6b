"""The provider-config QA rows run against Postgres."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture
def database_url(clean_pg_url: str) -> str:
    return clean_pg_url


@pytest.fixture(autouse=True)
def _default_structlog() -> None:
    """Undo logging set-up an earlier test left behind (the CLI's writes to a captured,
    since-closed stderr), so this app's own log lines cannot fail these tests."""
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    # The CLI configures structlog to print to a capture stream closed after the command;
    # later tests must not log into it.
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)
