"""Start-up imports only what is used (issue 12): ``fitdata serve`` must answer ``/readyz``
within two seconds, and a module imported at start is paid for by every process.

Each check runs a fresh interpreter (this test session has imported everything already) and
lists which of the heavy packages a start-up import pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import fitdata_http

HEAVY = (
    "alembic",
    "mako",
    "redis",
    "dramatiq",
    "psycopg",
    "aiosmtplib",
    "litestar",
    "sqlalchemy",
    "uvicorn",
)


def _loaded_after(statement: str) -> set[str]:
    script = (
        f"import sys, json\n{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def test_the_fitdata_command_loads_no_server_database_or_queue_stack() -> None:
    # `fitdata --help`, `fitdata worker`, `fitdata migrate`: the command module lists the
    # contributed commands (fitdata_http.cli among them) without importing the app.
    assert _loaded_after("import fitdata_adapters.cli.app, fitdata_http.cli") == set()


def test_serving_loads_neither_the_migration_machinery_nor_redis_nor_dramatiq() -> None:
    loaded = _loaded_after("import fitdata_adapters.cli.app, fitdata_http.cli, fitdata_http.serve")
    assert {"litestar", "sqlalchemy", "uvicorn"} <= loaded  # the check sees imports at all
    assert loaded.isdisjoint({"alembic", "mako", "redis", "dramatiq"})
    # Loaded where Postgres or SMTP is used, not by every server (the member CSV engine's
    # COPY path, the SMTP mailer).
    assert loaded.isdisjoint({"psycopg", "aiosmtplib"})


@pytest.mark.parametrize("name", fitdata_http.__all__)
def test_every_public_http_name_still_resolves(name: str) -> None:
    assert getattr(fitdata_http, name) is not None
    assert name in dir(fitdata_http)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        fitdata_http.no_such_name  # noqa: B018 - the lookup is the test
