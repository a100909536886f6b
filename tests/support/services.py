"""Real Postgres and Redis servers for the integration tests.

Each service is found in this order (design.md, "Real services in tests"):

1. the URL in an environment variable (``FITDATA_TEST_POSTGRES_URL`` / ``FITDATA_TEST_REDIS_URL``);
2. a server on its standard local port (127.0.0.1:5432 as user ``postgres``, 127.0.0.1:6379);
3. a throwaway server started from local binaries (``initdb``/``pg_ctl``, ``redis-server``)
   in a temporary directory on a free port;
4. a testcontainers container when a Docker engine answers;
5. otherwise the test run fails with a message saying what to install. Never a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import redis

POSTGRES_ENV = "FITDATA_TEST_POSTGRES_URL"
REDIS_ENV = "FITDATA_TEST_REDIS_URL"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

_POSTGRES_HELP = (
    "No Postgres for the integration tests. Do one of: set FITDATA_TEST_POSTGRES_URL to a "
    "server URL (a user allowed to CREATE DATABASE); run Postgres on 127.0.0.1:5432 with user "
    "'postgres' (trust auth); install the server binaries so initdb/pg_ctl exist "
    "(Debian/Ubuntu: apt-get install postgresql); or start a Docker engine (testcontainers)."
)
_REDIS_HELP = (
    "No Redis for the integration tests. Do one of: set FITDATA_TEST_REDIS_URL; run Redis on "
    "127.0.0.1:6379; install redis-server (Debian/Ubuntu: apt-get install redis-server); or "
    "start a Docker engine (testcontainers)."
)


@attrs.define
class Service:
    """A reachable server: its URL, where it came from, and how to stop it (if we own it)."""

    url: str
    origin: str
    _stop: Callable[[], None] | None = None

    def stop(self) -> None:
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A loopback port that was free a moment ago (bind to port 0 and ask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


# --- Postgres ------------------------------------------------------------------------------


def postgres_answers(url: str) -> bool:
    """Whether we can log in at ``url`` (a port that answers but refuses us does not count)."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def find_postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb and pg_ctl, else one on PATH."""

    def version(path: Path) -> float:
        try:
            return float(path.parent.name)
        except ValueError:
            return 0.0

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _unprivileged_user() -> str | None:
    """initdb and postgres refuse to run as root; borrow an ordinary account then."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run initdb as")


class LocalPostgresCluster:
    """A throwaway Postgres cluster in a temporary directory on a free loopback port.

    Durability is switched off (``fsync=off``): the cluster exists for one test run.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _unprivileged_user()
        self.root = Path(tempfile.mkdtemp(prefix="fitdata-pg-"))
        self.data_dir = self.root / "data"
        self.port = 0
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {"user": self.user} if self.user is not None else {}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.root,
            env=env,
            timeout=timeout,
            **kwargs,
        )

    def start(self) -> str:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        last_error: Exception | None = None
        for _ in range(3):  # the free port may be taken between asking and binding
            self.port = free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.root / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
            except subprocess.CalledProcessError as exc:
                last_error = exc
                continue
            _wait_until(lambda: postgres_answers(self.url), timeout=30, what="Postgres")
            return self.url
        self.stop()
        raise RuntimeError(f"could not start a local Postgres cluster: {last_error}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _postgres_from_container() -> Service:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16-alpine", driver=None)
    container.start()
    return Service(container.get_connection_url(), "testcontainers", container.stop)


def provision_postgres() -> Service:
    """A Postgres server URL (to its ``postgres`` database), found or started; see module doc."""
    tried: list[str] = []
    from_env = os.environ.get(POSTGRES_ENV)
    if from_env:
        return Service(from_env, f"${POSTGRES_ENV}")
    if port_answers("127.0.0.1", 5432):
        if postgres_answers(LOCAL_POSTGRES_URL):
            return Service(LOCAL_POSTGRES_URL, "local server on 127.0.0.1:5432")
        tried.append("127.0.0.1:5432 answers but refused user 'postgres'")
    bin_dir = find_postgres_bin_dir()
    if bin_dir is not None:
        cluster = LocalPostgresCluster(bin_dir)
        try:
            return Service(cluster.start(), f"throwaway cluster from {bin_dir}", cluster.stop)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            cluster.stop()
            tried.append(f"starting a cluster from {bin_dir} failed: {exc}")
    if docker_answers():
        return _postgres_from_container()
    pytest.fail(" ".join([_POSTGRES_HELP, *(f"({t})" for t in tried)]), pytrace=False)


# --- Redis ---------------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class LocalRedisServer:
    """A throwaway ``redis-server`` (no persistence) on a free loopback port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="fitdata-redis-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        for _ in range(3):
            self.port = free_port()
            log = (self.root / "redis.log").open("wb")
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            try:
                _wait_until(
                    lambda: (
                        self.process is not None
                        and (self.process.poll() is not None or redis_answers(self.url))
                    ),
                    timeout=15,
                    what="redis-server",
                )
            except TimeoutError:
                self.stop()
                raise
            if self.process.poll() is None:
                return self.url
        self.stop()
        raise RuntimeError("redis-server exited at start three times (port taken?)")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _redis_from_container() -> Service:
    from testcontainers.redis import RedisContainer

    container = RedisContainer("redis:7-alpine")
    container.start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(6379)
    return Service(f"redis://{host}:{port}/0", "testcontainers", container.stop)


def provision_redis() -> Service:
    """A Redis URL, found or started; see the module docstring for the order."""
    tried: list[str] = []
    from_env = os.environ.get(REDIS_ENV)
    if from_env:
        return Service(from_env, f"${REDIS_ENV}")
    if port_answers("127.0.0.1", 6379):
        if redis_answers(LOCAL_REDIS_URL):
            return Service(LOCAL_REDIS_URL, "local server on 127.0.0.1:6379")
        tried.append("127.0.0.1:6379 answers but not to PING")
    binary = shutil.which("redis-server")
    if binary is not None:
        server = LocalRedisServer(binary)
        try:
            return Service(server.start(), f"throwaway {binary}", server.stop)
        except (OSError, RuntimeError, TimeoutError) as exc:
            server.stop()
            tried.append(f"starting {binary} failed: {exc}")
    if docker_answers():
        return _redis_from_container()
    pytest.fail(" ".join([_REDIS_HELP, *(f"({t})" for t in tried)]), pytrace=False)
