"""The job registry: handlers by name, dispatch, and bad messages that must not crash."""

from __future__ import annotations

import inspect
import logging
from datetime import UTC, datetime

import pytest

from fitdata_adapters.memory import MemoryErrorReporter
from fitdata_core.errors import StorageUnavailable
from fitdata_core.ports.infrastructure import JobMessage
from fitdata_core.services import Services
from fitdata_workers import handlers
from fitdata_workers.registry import JobRegistry, registry
from fitdata_workers.scheduler import SCHEDULE


def message(actor: str, **args: str | int | None) -> JobMessage:
    return JobMessage(id="m-1", actor=actor, args=args, created_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_dispatch_runs_the_registered_handler_with_its_arguments(svc: Services) -> None:
    jobs = JobRegistry()
    calls: list[tuple[Services, str, int | None]] = []

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str, attempt: int | None = None) -> None:
        calls.append((s, job_id, attempt))

    assert await jobs.dispatch(svc, message("export_members", job_id="j-1", attempt=2)) is True
    assert calls == [(svc, "j-1", 2)]
    assert jobs.names() == ["export_members"]
    assert "export_members" in jobs
    assert jobs.get("export_members") is export_members


async def test_unknown_job_is_logged_and_reported_not_raised(
    svc: Services, errors: MemoryErrorReporter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="fitdata.workers"):
        assert await JobRegistry().dispatch(svc, message("nobody_home")) is False
    assert "no handler registered for job 'nobody_home'" in caplog.text
    assert [(r.message, r.context["job"]) for r in errors.reports] == [
        ("unknown job", "nobody_home")
    ]


async def test_arguments_the_handler_refuses_are_logged_not_raised(
    svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = JobRegistry()
    ran: list[str] = []

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str) -> None:
        ran.append(job_id)

    with caplog.at_level(logging.ERROR, logger="fitdata.workers"):
        assert await jobs.dispatch(svc, message("export_members", org="x")) is False
    assert ran == []
    assert "arguments its handler refuses" in caplog.text


async def test_handler_errors_propagate_so_runners_can_retry(svc: Services) -> None:
    jobs = JobRegistry()

    @jobs.job("flaky")
    async def flaky(s: Services) -> None:
        raise StorageUnavailable("bucket away")

    with pytest.raises(StorageUnavailable):
        await jobs.dispatch(svc, message("flaky"))


def test_a_name_is_registered_once_and_only_async_handlers() -> None:
    jobs = JobRegistry()

    @jobs.job("one")
    async def one(s: Services) -> None:
        return None

    async def other(s: Services) -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):
        jobs.job("one")(other)
    assert jobs.job("one")(one) is one  # re-importing the same module is harmless

    def not_async(s: Services) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        jobs.job("sync")(not_async)  # type: ignore[arg-type]


def test_the_handlers_module_fills_the_process_registry() -> None:
    assert handlers.registry is registry


def test_scheduled_jobs_that_have_handlers_accept_scheduled_for() -> None:
    """A feature that registers a scheduled job must take the ``scheduled_for`` argument."""
    scheduled = {entry.job for entry in SCHEDULE}
    assert {"billing_renewals", "billing_reconcile", "billing_expire_stale"} <= scheduled
    for name in scheduled & set(registry.names()):
        handler = registry.get(name)
        assert handler is not None
        inspect.signature(handler).bind(object(), scheduled_for="2026-01-01T00:00:00+00:00")
