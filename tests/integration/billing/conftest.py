"""Fixtures of the billing QA-plan rows: the app and the Cardcom sandbox over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import structlog
from billing_http_harness import (
    API_NAME,
    TERMINAL,
    AppServer,
    Stack,
    billing_settings,
    build_runtime,
)

from fitdata_adapters.cardcom_sandbox import SandboxConfig, SandboxThread
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter


@pytest.fixture(autouse=True)
def _default_structlog() -> None:
    """Undo logging set-up an earlier test (the CLI's) left behind."""
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def cardcom_sandbox() -> Iterator[SandboxThread]:
    # time_scale shrinks Cardcom's webhook retry schedule (1 min -> 6 ms, 12 h -> 4 s).
    config = SandboxConfig(terminal_number=TERMINAL, api_name=API_NAME, time_scale=0.0001)
    with SandboxThread(config) as sandbox:
        yield sandbox


@pytest.fixture
async def stack(
    tmp_path: Path, clean_pg_url: str, cardcom_sandbox: SandboxThread
) -> AsyncIterator[Stack]:
    """A fresh database and sandbox, the app serving on its own socket, and a test runtime."""
    async with httpx.AsyncClient(base_url=cardcom_sandbox.base_url, timeout=15) as cardcom:
        assert (await cardcom.post("/_sandbox/reset")).status_code == 200
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        mailer = MemoryMailer()
        errors = MemoryErrorReporter()
        server = AppServer()
        settings = billing_settings(
            tmp_path / "var", clean_pg_url, server.base_url, cardcom_sandbox.base_url
        )
        server.start(lambda: build_runtime(settings, clock, mailer, errors))
        runtime = build_runtime(settings, clock, mailer, errors)
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as app:
                yield Stack(
                    app=app,
                    cardcom=cardcom,
                    runtime=runtime,
                    clock=clock,
                    mailer=mailer,
                    errors=errors,
                    database_url=clean_pg_url,
                    settings=settings,
                )
        finally:
            await runtime.aclose()
            server.stop()
