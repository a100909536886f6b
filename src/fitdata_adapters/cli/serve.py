"""``fitdata serve``: the HTTP API under uvicorn, plus the in-process worker when embedded."""

from __future__ import annotations

import asyncio
import signal

import uvicorn

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.cli.output import note
from fitdata_adapters.settings import Settings


def exit_quietly_after_signals() -> None:
    """After a graceful shutdown uvicorn re-raises the signal that stopped it, to the handler
    that was installed before it started. With the default handler a SIGTERM would then kill
    the process (exit status -15) although everything shut down cleanly; a no-op handler
    makes ``fitdata serve`` exit 0 on SIGTERM and Ctrl-C."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: None)


async def _serve(settings: Settings, *, host: str, port: int) -> None:
    from fitdata_http.app import create_app

    runtime = bootstrap(settings)
    try:
        app = create_app(runtime)
        if settings.is_embedded_queue:
            from fitdata_workers.embedded import EmbeddedWorker

            worker = EmbeddedWorker(runtime)

            async def start_worker() -> None:
                await worker.start()

            async def stop_worker() -> None:
                await worker.stop()

            # Started after the app's own start-up hooks, stopped before its shutdown hooks
            # (Litestar runs ``on_shutdown`` in order), so jobs never outlive the app. (Hooks
            # without parameters: Litestar passes the app to hooks that take any.)
            app.on_startup.append(start_worker)
            app.on_shutdown.insert(0, stop_worker)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_level=settings.log_level.lower(),
            server_header=False,
        )
        note(
            f"fitdata serving on http://{host}:{port} in {settings.mode} mode; "
            f"data in {settings.data_dir}"
        )
        for line in settings.connections():
            note(f"  {line}")
        exit_quietly_after_signals()
        await uvicorn.Server(config).serve()
    finally:
        await runtime.aclose()


def run_server(settings: Settings, *, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C; then stop accepting, finish requests and jobs, exit 0."""
    asyncio.run(_serve(settings, host=host, port=port))
