"""Liveness and readiness probes (public, no token)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from litestar import Controller, Request, get

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.logging import get_logger
from fitdata_http.context import request_id_of, runtime_of
from fitdata_http.contract import answers
from fitdata_http.envelope import Envelope, ok
from fitdata_http.errors import Problem, problem_response

__all__ = ["HealthController"]

PROBE_TIMEOUT_SECONDS = 3.0
_log = get_logger("fitdata.http.health")


async def _database_up(runtime: Runtime) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the type is enough to log
        _log.warning("readiness_probe_failed", dependency="database", error=type(exc).__name__)
        return False
    return True


async def _redis_up(url: str) -> bool:
    # Imported here: only a deployment with Redis probes it, and redis costs an embedded
    # start about a second of imports (issue 12).
    from redis.asyncio import Redis

    try:
        async with (
            asyncio.timeout(PROBE_TIMEOUT_SECONDS),
            Redis.from_url(
                url,
                socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                socket_timeout=PROBE_TIMEOUT_SECONDS,
            ) as client,
        ):
            await client.ping()
    except Exception as exc:
        _log.warning("readiness_probe_failed", dependency="queue", error=type(exc).__name__)
        return False
    return True


@attrs.frozen
class Liveness:
    """``{"status": "ok"}``: the process answers."""

    status: Literal["ok"]


@attrs.frozen
class Checks:
    """The state of each dependency (``embedded``: the in-process queue, up with the process)."""

    database: Literal["up", "down"]
    queue: Literal["up", "down", "embedded"]


@attrs.frozen
class Readiness:
    """``{"status": "ready", "checks": {...}}``; when a dependency is down the answer is a 503
    problem ``NOT_READY`` carrying the same ``checks``."""

    status: Literal["ready"]
    checks: Checks


class HealthController(Controller):
    path = "/"
    tags = ["health"]  # noqa: RUF012 - Litestar reads these as class attributes

    @get("/healthz", opt=answers(Liveness), summary="Liveness: the process answers (no I/O)")
    async def healthz(self) -> Envelope:
        return ok({"status": "ok"})

    @get(
        "/readyz",
        opt=answers(Readiness),
        summary="Readiness: the database and the queue are reachable",
    )
    async def readyz(self, request: Request[Any, Any, Any]) -> Envelope:
        runtime = runtime_of(request)
        redis_url = runtime.settings.redis_url
        database, queue = await asyncio.gather(
            _database_up(runtime),
            _redis_up(redis_url) if redis_url else _embedded(),
        )
        checks = {
            "database": "up" if database else "down",
            "queue": ("up" if queue else "down") if redis_url else "embedded",
        }
        down = [name for name, state in checks.items() if state == "down"]
        if down:
            return problem_response(
                Problem(
                    503,
                    "NOT_READY",
                    f"Not ready: {' and '.join(down)} unreachable.",
                    title="Service Unavailable",
                    extensions={"checks": checks},
                ),
                request_id_of(request),
                retry_after=runtime.settings.retry_after_seconds,
            )
        return ok({"status": "ready", "checks": checks})


async def _embedded() -> bool:
    return True  # the in-process queue is up whenever this process is
