"""The ``fitdata worker`` and ``fitdata scheduler`` subcommands, contributed to the
``fitdata`` command through the ``fitdata.commands`` entry points (see
:mod:`fitdata_adapters.plugins`), and the embedded worker that ``fitdata serve`` runs beside
the app (a ``fitdata.serve_companions`` entry point). Light at import: ``fitdata --help``
loads this module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fitdata_adapters.cli.output import reported_errors
from fitdata_adapters.cli.runtime import load_settings

if TYPE_CHECKING:
    from fitdata_adapters.bootstrap import Runtime
    from fitdata_adapters.plugins import Companion

__all__ = ["embedded_worker", "scheduler", "worker"]


def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes to run.")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Job threads per process.")] = 8,
) -> None:
    """Run job workers (Dramatiq on FITDATA_REDIS_URL) and the outbox relay until stopped."""
    with reported_errors():
        settings = load_settings(process=True)
        from fitdata_workers.main import run_worker

        run_worker(settings, processes=processes, threads=threads)


def scheduler() -> None:
    """Run the scheduler of periodic work (FITDATA_REDIS_URL) until stopped; any number may
    run, each tick fires once."""
    with reported_errors():
        settings = load_settings(process=True)
        from fitdata_workers.main import run_scheduler

        run_scheduler(settings)


def embedded_worker(runtime: Runtime) -> Companion | None:
    """The in-process worker and scheduler of embedded mode (no Redis), else None (typed as
    the companion ``fitdata serve`` expects, so mypy checks the fit)."""
    if not runtime.settings.is_embedded_queue:
        return None
    from fitdata_workers.embedded import EmbeddedWorker

    return EmbeddedWorker(runtime)
