"""The public API of ``fitdata_core``, pinned: ``__all__`` of the package and of every public
module, each public class and function documented, nothing public left unlisted.

A name that appears or disappears fails :func:`test_the_public_api_is_pinned` until the pinned
list (``core_api.txt`` beside this file) is updated on purpose:
``python tests/unit/architecture/test_core_api.py`` rewrites it from the code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import fitdata_core

PINNED = Path(__file__).with_name("core_api.txt")


def public_modules() -> list[ModuleType]:
    """``fitdata_core`` and every module under it whose dotted name has no ``_`` part."""
    names = ["fitdata_core"] + [
        info.name
        for info in pkgutil.walk_packages(fitdata_core.__path__, "fitdata_core.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def api_lines() -> list[str]:
    lines = []
    for module in public_modules():
        for name in sorted(getattr(module, "__all__", ())):
            lines.append(f"{module.__name__}: {name}")
    return lines


def test_every_public_module_declares_its_api() -> None:
    missing = [m.__name__ for m in public_modules() if not hasattr(m, "__all__")]
    assert missing == []


def test_every_listed_name_exists() -> None:
    absent = [
        f"{module.__name__}.{name}"
        for module in public_modules()
        for name in module.__all__
        if not hasattr(module, name)
    ]
    assert absent == []


def test_the_public_api_is_pinned() -> None:
    pinned = PINNED.read_text(encoding="utf-8").splitlines()
    current = api_lines()

    appeared = sorted(set(current) - set(pinned))
    disappeared = sorted(set(pinned) - set(current))
    assert (appeared, disappeared) == ([], []), (
        "The public API of fitdata_core changed. If on purpose, run "
        "`python tests/unit/architecture/test_core_api.py` and commit core_api.txt."
    )


def _defined_here(module: ModuleType) -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module.__name__
    }


def test_every_public_class_and_function_has_a_docstring() -> None:
    undocumented = []
    for module in public_modules():
        for name, obj in _defined_here(module).items():
            if name.startswith("_"):
                continue
            # A class's own docstring, not one inherited (an Enum's, a Protocol's).
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (isinstance(doc, str) and doc.strip()):
                undocumented.append(f"{module.__name__}.{name}")
    assert undocumented == []


def test_nothing_public_is_left_out_of_all() -> None:
    # A helper not meant for callers takes a leading underscore; anything else is listed.
    unlisted = [
        f"{module.__name__}.{name}"
        for module in public_modules()
        for name in _defined_here(module)
        if not name.startswith("_") and name not in module.__all__
    ]
    assert unlisted == []


def test_the_package_surface_is_importable_by_name() -> None:
    namespace: dict[str, object] = {}
    exec("from fitdata_core import *", namespace)  # noqa: S102 - the statement under test

    assert set(fitdata_core.__all__) <= set(namespace)


if __name__ == "__main__":
    PINNED.write_text("\n".join(api_lines()) + "\n", encoding="utf-8")
    print(f"wrote {PINNED} ({len(api_lines())} names)", file=sys.stderr)
