"""docs/library.md's worked example runs as written, and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

# The example borrows the in-memory repositories; importing them here also tells
# `make test-core` (tests/support/core_only.py) that this test needs more than the core.
import fitdata_adapters.memory  # noqa: F401

LIBRARY_DOC = Path(__file__).resolve().parents[3] / "docs" / "library.md"


def _blocks(language: str) -> list[str]:
    text = LIBRARY_DOC.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_worked_example_runs_and_prints_what_the_page_shows() -> None:
    code = _blocks("python")[0]
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(LIBRARY_DOC), "exec"), {"__name__": "library_example"})  # noqa: S102 - the documented example

    assert printed.getvalue() == _blocks("text")[0]
