"""Session fixtures for real services: Postgres, SQLite and Redis.

Nothing is started unless a test asks for it, so unit tests never need a server.

* ``postgres_server_url``: a Postgres server (see ``support.services`` for how it is found).
* ``pg_url``: a fresh database for this test session, migrated, dropped at the end.
* ``clean_pg_url``: ``pg_url`` with every table emptied before the test.
* ``sqlite_url``: a migrated SQLite file of the test's own.
* ``redis_url``: a Redis server; ``redis_key_prefix``: a prefix no other test uses.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from fitdata_adapters.db.migrate import upgrade
from support.databases import (
    create_database,
    drop_database,
    settle_sqlite_file,
    truncate_all_postgres,
    unique_database_name,
)
from support.services import provision_postgres, provision_redis

# CI replays the same examples every run (a property that fails there fails every time, and
# is not a coin toss), with no per-example deadline on a shared machine; locally hypothesis
# keeps exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a Postgres server's ``postgres`` database, as a user that may create databases."""
    service = provision_postgres()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="session")
def pg_url(postgres_server_url: str) -> Iterator[str]:
    """A throwaway database for this session (random name), migrated to head."""
    name = unique_database_name()
    url = create_database(postgres_server_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture
def clean_pg_url(pg_url: str) -> str:
    """``pg_url`` with every table emptied, for tests that need a blank slate."""
    truncate_all_postgres(pg_url)
    return pg_url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Migrating once and copying the file keeps per-test SQLite databases cheap.
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    settle_sqlite_file(path)
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database file belonging to this test."""
    path = tmp_path / "fitdata.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server. Share it politely: namespace keys with ``redis_key_prefix``."""
    service = provision_redis()
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture
def redis_key_prefix() -> str:
    """A key prefix unique to this test (and this run), e.g. ``fitdata-test-1a2b3c4d:``."""
    return f"fitdata-test-{secrets.token_hex(4)}:"
