"""The core's unit tests in a virtual environment holding only ``fitdata_core`` and its own
dependencies (``make test-core``).

As a pytest plugin (``-p tests.support.core_only``, with ``--noconftest``), it collects only
the unit tests that need nothing but the core: a test module is left out when it, or a test
helper it imports from the checkout, imports ``fitdata_adapters``, ``fitdata_http`` or
``fitdata_workers``, or a module this environment does not have, or when its folder has a
``conftest.py`` (whose fixtures are not loaded here). Collecting nothing fails the run.

As a script (``python tests/support/core_only.py``), it checks the environment really is
core-only: the core imports, and none of the service's frameworks and clients do.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# The test helpers are imported as ``support.*``; the full run gets ``tests/`` on the path from
# its conftest.py, which this run does not load.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
SERVICE_PACKAGES = frozenset({"fitdata_adapters", "fitdata_http", "fitdata_workers"})
# The service's dependencies a core-only environment must not have.
ABSENT = (
    "litestar",
    "dramatiq",
    "sqlalchemy",
    "aioboto3",
    "psycopg",
    "aiosqlite",
    "redis",
    "httpx",
    "cattrs",
    "uvicorn",
    "typer",
    "cryptography",
)


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _local_file(module: str, beside: Path) -> Path | None:
    """The checkout's own helper module ``module`` (``support.builders``, or a sibling such as
    ``export_support``), if it is one."""
    relative = Path(*module.split("."))
    for base in (beside, TESTS):
        for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


@cache
def needs_more_than_the_core(path: Path) -> bool:
    """Whether ``path`` (a test module or a helper) imports anything beyond the core."""
    for module in _imported(path):
        top = module.split(".")[0]
        if top in SERVICE_PACKAGES:
            return True
        local = _local_file(module, path.parent)
        if local is not None:
            if needs_more_than_the_core(local):
                return True
            continue
        if importlib.util.find_spec(top) is None:
            return True
    return False


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Leave out the test modules that need more than the core (see the module docstring)."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    if (collection_path.parent / "conftest.py").exists():
        return True
    return True if needs_more_than_the_core(collection_path) else None


def check_isolation() -> None:
    """Fail unless the core imports and none of :data:`ABSENT` does."""
    importlib.import_module("fitdata_core")
    present = [name for name in ABSENT if importlib.util.find_spec(name) is not None]
    if present:
        sys.exit(f"not a core-only environment: {', '.join(present)} can be imported")
    print(f"core-only environment: fitdata_core imports; {', '.join(ABSENT)} do not")


if __name__ == "__main__":
    check_isolation()
