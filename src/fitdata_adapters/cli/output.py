"""How the CLI talks back: data on stdout (plain or one JSON object), errors on stderr.

Scripts rely on the plain output (an id or a token alone on a line), so anything meant for
people goes to stderr. Bad input ends with one line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from fitdata_core.errors import FitdataError, Unavailable

# Exit codes: 2 is what argument parsers use for "you called me wrong"; 1 for "the world
# failed" (a database that does not answer).
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1


def fail(message: str, *, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``fitdata: error: <message>`` on one line of stderr and exit with ``code``."""
    one_line = " ".join(message.split())
    typer.echo(f"fitdata: error: {one_line}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn core errors into a one-line message and an exit code."""
    try:
        yield
    except Unavailable as exc:
        fail(str(exc), code=EXIT_UNAVAILABLE)
    except FitdataError as exc:
        fail(str(exc))


def note(message: str) -> None:
    """A remark for the person at the terminal (stderr, so stdout stays parseable)."""
    typer.echo(message, err=True)


def emit(data: Mapping[str, Any], *, as_json: bool, plain: str) -> None:
    """Print ``data`` as one JSON object, or ``plain`` as is."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        typer.echo(plain)
