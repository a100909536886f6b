"""The core installs alone: ``pip install fitdata`` brings only what ``fitdata_core`` imports,
and everything else the service needs is in the ``service`` extra (``make test-core`` then
proves it in an empty virtual environment)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Import names that differ from their distribution's name.
DISTRIBUTION_OF = {"email_validator": "email-validator", "charset_normalizer": "charset-normalizer"}


def _project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    assert isinstance(project, dict)
    return project


def _names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {re.split(r"[\[<>=!~ ;]", str(r), maxsplit=1)[0].lower() for r in requirements}


def _third_party_imports_of_the_core() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "fitdata_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {
        name
        for name in found
        if name not in sys.stdlib_module_names and name != "__future__" and name != "fitdata_core"
    }


def test_every_package_the_core_imports_is_a_base_dependency() -> None:
    base = _names(_project()["dependencies"])
    imported = {
        DISTRIBUTION_OF.get(name, name).lower() for name in _third_party_imports_of_the_core()
    }

    assert imported <= base, f"add {sorted(imported - base)} to [project].dependencies"


def test_the_service_dependencies_are_an_extra_not_the_base() -> None:
    project = _project()
    base = _names(project["dependencies"])
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    service = _names(optional["service"])

    for framework in ("litestar", "dramatiq", "sqlalchemy", "aioboto3", "psycopg", "cattrs"):
        assert framework in service
        assert framework not in base
