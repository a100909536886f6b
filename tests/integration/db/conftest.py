"""Fixtures for the persistence adapter's own tests: empty databases on either backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.databases import create_database, drop_database, unique_database_name

SQL_BACKENDS = ("sqlite", "postgres")


@pytest.fixture
def empty_pg_url(postgres_server_url: str) -> Iterator[str]:
    """A brand-new, unmigrated Postgres database, dropped after the test."""
    name = unique_database_name("fitdata_empty")
    url = create_database(postgres_server_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture(params=SQL_BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An unmigrated database on each SQL backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("empty_pg_url"))


@pytest.fixture(params=SQL_BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, clean database on each SQL backend in turn."""
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "clean_pg_url")
    )
