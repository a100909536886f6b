"""The ``fitdata serve`` subcommand, contributed to the ``fitdata`` command through the
``fitdata.commands`` entry point (see :mod:`fitdata_adapters.plugins`). Light at import:
``fitdata --help`` loads this module."""

from __future__ import annotations

from typing import Annotated

import typer

from fitdata_adapters.cli.output import reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate_if_needed

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database (when it is behind), then serve the HTTP API.

    Without FITDATA_REDIS_URL (embedded mode) the job worker and the scheduler run inside
    this process too. In production mode (FITDATA_MODE) it refuses to start, naming every
    missing setting.
    """
    with reported_errors():
        settings = load_settings(process=True)
        migrate_if_needed(settings)
        from fitdata_http.serve import run_server

        run_server(settings, host=host, port=port)
