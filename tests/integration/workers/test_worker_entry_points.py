"""The real entry points, as ``fitdata scheduler`` and ``fitdata worker`` run them: separate
processes on SQLite and a Redis of their own. The scheduler writes the 5-minute reconcile
sweep into the outbox; a worker process relays it to Redis and runs it; SIGTERM stops both
cleanly."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from support.services import LocalRedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def private_redis_url(redis_url: str) -> Iterator[str]:
    """A Redis no other test shares: the entry points use the default key namespace."""
    binary = shutil.which("redis-server")
    if binary is not None:
        server = LocalRedisServer(binary)
        try:
            yield server.start()
        finally:
            server.stop()
        return
    # No binary: a random database of the shared server, emptied afterwards.
    db = 1 + secrets.randbelow(15)
    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    yield url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def start(code: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=out)


def outbox_rows(db_path: str) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT actor, delivered_at FROM outbox").fetchall()
    finally:
        conn.close()


def scheduled_ticks(db_path: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT actor, args FROM outbox").fetchall()
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], *, within: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    output = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in logs)
    raise AssertionError(f"timed out waiting for {what}\n{output}")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_scheduler_and_worker_processes(
    sqlite_url: str, private_redis_url: str, tmp_path: Path
) -> None:
    db_path = sqlite_url.removeprefix("sqlite:///")
    env = {
        **os.environ,
        "FITDATA_DATA_DIR": str(tmp_path / "var"),
        "FITDATA_MODE": "embedded",
        "FITDATA_DATABASE_URL": sqlite_url,
        "FITDATA_REDIS_URL": private_redis_url,
        "FITDATA_LOG_LEVEL": "INFO",
    }
    settings = "from fitdata_adapters.settings import Settings; s = Settings.from_env(); "
    logs = [tmp_path / "scheduler.log", tmp_path / "worker.log"]

    scheduler = start(
        settings + "from fitdata_workers.main import run_scheduler; run_scheduler(s)",
        env,
        logs[0],
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_until(
            lambda: ("billing_reconcile", None) in outbox_rows(db_path),
            within=60,
            what="the scheduler to write the reconcile sweep",
            logs=logs,
        )
        worker = start(
            settings + "from fitdata_workers.main import run_worker; run_worker(s, threads=2)",
            env,
            logs[1],
        )
        wait_until(
            lambda: (
                bool(outbox_rows(db_path))
                and all(delivered is not None for _, delivered in outbox_rows(db_path))
            ),
            within=60,
            what="the worker's relay to deliver it",
            logs=logs,
        )
        wait_until(
            lambda: "billing_reconcile" in logs[1].read_text(errors="replace"),
            within=30,
            what="the worker to run it",
            logs=logs,
        )
    finally:
        codes = [stop(scheduler)] + ([stop(worker)] if worker is not None else [])
    assert codes == [0, 0]
    # The reconcile sweep always (its 5-minute tick is current); daily sweeps whose time
    # passed within their grace also fire.
    actors = [actor for actor, _ in outbox_rows(db_path)]
    assert "billing_reconcile" in actors
    # Each tick fires once (a 15-second sweep may tick more than once during the test).
    ticks = scheduled_ticks(db_path)
    assert len(ticks) == len(set(ticks))
