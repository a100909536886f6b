"""What the outer packages contribute, found through entry points (never imported here).

Dependencies point inward: ``fitdata_http`` and ``fitdata_workers`` import the adapters, never
the other way round. So the ``fitdata`` command (in the adapters) cannot import ``serve`` or
``worker``; each package declares what it contributes in ``pyproject.toml`` and the command
finds it at start-up:

- ``[project.entry-points."fitdata.commands"]``: ``name = "package.module:function"``, one
  subcommand each (``serve`` from ``fitdata_http``, ``worker`` and ``scheduler`` from
  ``fitdata_workers``). The function is registered as ``fitdata <name>``.
- ``[project.entry-points."fitdata.serve_companions"]``: factories ``(runtime) -> companion |
  None`` that ``fitdata serve`` starts with the app and stops before it (the embedded worker
  from ``fitdata_workers``); ``None`` when the companion does not apply to the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fitdata_adapters.bootstrap import Runtime

__all__ = [
    "COMMANDS_GROUP",
    "COMPANIONS_GROUP",
    "Companion",
    "CompanionFactory",
    "command_entry_points",
    "serve_companions",
]

COMMANDS_GROUP = "fitdata.commands"
COMPANIONS_GROUP = "fitdata.serve_companions"
# How `fitdata --help` lists the commands that run the service.
_FIRST = ("serve", "worker", "scheduler")


class Companion(Protocol):
    """Something that runs beside the HTTP app in ``fitdata serve``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


CompanionFactory = Callable[["Runtime"], Companion | None]


def command_entry_points() -> list[EntryPoint]:
    """The declared subcommands, the service's processes first (loaded by the caller, so one
    that fails to import can be reported when it is used rather than break every command)."""

    def order(entry_point: EntryPoint) -> tuple[int, str]:
        name = entry_point.name
        return (_FIRST.index(name) if name in _FIRST else len(_FIRST), name)

    return sorted(entry_points(group=COMMANDS_GROUP), key=order)


def serve_companions(runtime: Runtime) -> list[Companion]:
    """The companions every installed package wants beside the app for ``runtime``."""
    found: list[Companion] = []
    for entry_point in sorted(entry_points(group=COMPANIONS_GROUP), key=lambda ep: ep.name):
        factory: Any = entry_point.load()
        companion = factory(runtime)
        if companion is not None:
            found.append(companion)
    return found
