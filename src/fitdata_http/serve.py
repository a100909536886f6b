"""``fitdata serve``: the HTTP API under uvicorn, with the companions other packages add (the
in-process worker and scheduler in embedded mode, from ``fitdata_workers``)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

import uvicorn
from litestar import Litestar

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.cli.output import note
from fitdata_adapters.cli.serve import exit_quietly_after_signals
from fitdata_adapters.plugins import Companion, serve_companions
from fitdata_adapters.settings import Settings
from fitdata_http.app import create_app

__all__ = ["freeze_startup_objects", "run_server", "serving_app"]

Hook = Callable[[], Awaitable[None]]


def _hooks(companion: Companion) -> tuple[Hook, Hook]:
    """Lifespan hooks without parameters: Litestar passes the app to hooks that take any."""

    async def start() -> None:
        await companion.start()

    async def stop() -> None:
        await companion.stop()

    return start, stop


def serving_app(runtime: Runtime) -> Litestar:
    """The app ``fitdata serve`` runs: the API, then the companions' start-up, then
    :func:`freeze_startup_objects`."""
    app = create_app(runtime)
    for companion in serve_companions(runtime):
        # Started after the app's own start-up hooks, stopped before its shutdown hooks
        # (Litestar runs ``on_shutdown`` in order), so jobs never outlive the app.
        start, stop = _hooks(companion)
        app.on_startup.append(start)
        app.on_shutdown.insert(0, stop)
    app.on_startup.append(freeze_startup_objects)  # last: after the companions' start too
    return app


async def _serve(settings: Settings, *, host: str, port: int) -> None:
    runtime = bootstrap(settings)
    try:
        app = serving_app(runtime)
        # uvicorn's access log is off: it writes each request's path and query string as plain
        # text (signed download links included, even with JSON logging); the app's request log
        # (fitdata_http.request_log) is the one access log and it redacts query values. Its
        # proxy-header handling is off too: it trusts loopback by default, so a client behind a
        # same-host proxy could pick its own address; the app reads X-Forwarded-For itself,
        # only from FITDATA_TRUSTED_PROXIES (fitdata_http.client_address).
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_level=settings.log_level.lower(),
            server_header=False,
            access_log=False,
            proxy_headers=False,
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


async def freeze_startup_objects() -> None:
    """Move everything start-up made (modules, the app, its routes, pools) out of the
    cyclic garbage collector's sight, for good.

    Those objects live as long as the process, yet every full collection walked them all
    again, and requests trigger collections all day (each allocates thousands of small
    objects): 3-5% of a member-list request's CPU went to it (bench/README.md). Objects made
    after this are collected as before. ``gc.collect()`` first, so that garbage start-up
    left is freed rather than frozen."""
    gc.collect()
    gc.freeze()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (the ``service`` extra, except on Windows),
    else asyncio's. uvicorn picks its C HTTP parser (httptools) by itself; the loop is ours
    to choose because we run uvicorn inside our own ``asyncio`` runner."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop


def run_server(settings: Settings, *, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C; then stop accepting, finish requests and jobs, exit 0."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(settings, host=host, port=port))
