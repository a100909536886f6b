"""The service-provisioning fallbacks work on this machine (what a fresh CI box would use)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import redis

from support.services import (
    POSTGRES_ENV,
    LocalPostgresCluster,
    LocalRedisServer,
    find_postgres_bin_dir,
    port_answers,
    provision_postgres,
    provision_redis,
)

pytestmark = pytest.mark.integration


def test_a_throwaway_postgres_from_local_binaries() -> None:
    bin_dir = find_postgres_bin_dir()
    if bin_dir is None:
        # No binaries here: then whatever provisioning picks instead must work.
        service = provision_postgres()
        try:
            with psycopg.connect(service.url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            service.stop()
        return
    cluster = LocalPostgresCluster(bin_dir)
    url = cluster.start()
    try:
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE probe (n int)")
            conn.execute("INSERT INTO probe VALUES (41), (1)")
            assert conn.execute("SELECT sum(n) FROM probe").fetchone() == (42,)
            version = conn.execute("SHOW server_version").fetchone()
        assert version is not None
        assert str(version[0]).split(".")[0] in str(bin_dir)
    finally:
        cluster.stop()
    assert not port_answers("127.0.0.1", cluster.port)
    assert not Path(cluster.root).exists()


def test_a_throwaway_redis_from_the_local_binary() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        service = provision_redis()
        try:
            assert redis.Redis.from_url(service.url).ping()
        finally:
            service.stop()
        return
    server = LocalRedisServer(binary)
    url = server.start()
    try:
        client = redis.Redis.from_url(url)
        client.set("fitdata-probe", "42")
        assert client.get("fitdata-probe") == b"42"
        client.close()
    finally:
        server.stop()
    assert not port_answers("127.0.0.1", server.port)


def test_the_environment_variable_wins(
    monkeypatch: pytest.MonkeyPatch, postgres_server_url: str
) -> None:
    monkeypatch.setenv(POSTGRES_ENV, postgres_server_url)
    service = provision_postgres()
    assert service.url == postgres_server_url
    assert POSTGRES_ENV in service.origin
    service.stop()  # not ours to stop: a no-op
    with psycopg.connect(postgres_server_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_redis_url_fixture_answers(redis_url: str, redis_key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{redis_key_prefix}probe", "1", ex=30)
        assert client.get(f"{redis_key_prefix}probe") == b"1"
    finally:
        client.delete(f"{redis_key_prefix}probe")
        client.close()
