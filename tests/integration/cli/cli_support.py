"""Running the ``fitdata`` command in-process against a data dir of the test's own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
from typer.testing import CliRunner

from fitdata_adapters.cli import app


@attrs.frozen
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON object stdout holds (fails if there is anything else)."""
        return json.loads(self.stdout)


def run_cli(args: Sequence[str]) -> Outcome:
    """``fitdata <args>`` with stdout and stderr captured separately."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)
