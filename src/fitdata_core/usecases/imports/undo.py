"""Undoing a completed import: remove what it created, restore what it changed.

Every row an import created or updated left a :class:`~fitdata_core.rules.import_merge.RowChange`
(its tracked fields before and after). Undo walks them newest first. A row that still holds
exactly what the import wrote is reverted (deleted if the import created it, its previous
values put back otherwise). A row something else changed since is left alone and listed, and
so is a created user who meanwhile joined another organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.rules.import_merge import CREATED, RowChange


@attrs.frozen
class UndoConflict:
    """A row undo left alone, and why."""

    entity: str
    key: str
    reason: str


@attrs.frozen
class UndoReport:
    """What an undo did: how many rows it reverted, and the rows it left alone because something
    else changed them since the import."""

    reverted: int = 0
    conflicts: tuple[UndoConflict, ...] = ()


def _holds(current: dict[str, Any], after: dict[str, Any]) -> bool:
    return all(_same(current.get(k), v) for k, v in after.items())


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return str(a) == str(b)


# Dependants first: a profile and a membership go before their user, leads and plans last.
_ORDER = {"profile": 0, "membership": 1, "lead": 2, "user": 3, "plan": 4}


async def undo_changes(uow: UnitOfWork, org_id: str, changes: Sequence[RowChange]) -> UndoReport:
    """Revert an import's ``changes`` in ``uow``: delete the rows it created and restore the
    ones it changed, except a row something else changed since (listed as a conflict)."""
    reverted = 0
    conflicts: list[UndoConflict] = []
    # Newest first, so a row changed twice by the job goes back through both steps.
    ordered = sorted(enumerate(changes), key=lambda pair: (_ORDER.get(pair[1].entity, 9), -pair[0]))
    blocked: set[tuple[str, str]] = set()
    for _, change in ordered:
        current = await uow.imports.current(org_id, change.entity, change.key)
        if current is None:
            continue  # gone already: nothing to revert
        if not _holds(current, change.after):
            conflicts.append(
                UndoConflict(change.entity, change.key, "changed since the import; left as is")
            )
            blocked.add((change.entity, change.key))
            continue
        if change.action == CREATED:
            if change.entity == "user" and await uow.imports.membership_count(change.key) > 0:
                conflicts.append(
                    UndoConflict("user", change.key, "belongs to an organization; kept")
                )
                continue
            await uow.imports.restore(org_id, change.entity, change.key, None)
        else:
            await uow.imports.restore(org_id, change.entity, change.key, change.before or {})
        reverted += 1
    return UndoReport(reverted, tuple(conflicts))


__all__ = ["UndoConflict", "UndoReport", "undo_changes"]
