"""The import engine's persistence port: staging, the reads and writes of a batch, undo.

``uow.imports`` implements it. The engine decides every write in pure code
(:mod:`fitdata_core.rules.import_merge`); this port reads what a batch needs to decide in a
few set-based queries, and writes the decisions in a few set-based statements (no statement
per row), so a batch of 1,000 rows is a handful of round trips whatever the backend. A
backend may also apply a range of staged members itself (``apply_staged_members``, the same
rules in its own language), which spares the rows' round trip through Python.

Staging: source rows, already checked and normalised, wait in a staging area keyed by
``(job, entity, seq)`` until a batch applies them. The Arbox source stages page by page; the
CSV source can bulk-load a whole file into the same place (``COPY`` on Postgres), and the
same apply step takes it from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from fitdata_core.model.catalog import Lead, Plan
from fitdata_core.model.organizations import MemberProfile
from fitdata_core.rules.import_merge import (
    AppliedMembers,
    ExistingMember,
    LeadWrites,
    MemberWrites,
    PlanWrites,
    RowChange,
)
from fitdata_core.rules.import_values import MemberRecord

#: A staged row's record: a member record as it is (a store may keep its fields in columns
#: of their own, and a CSV import stages a million of them: no dict built for each), any
#: other record as its ``to_dict()``. ``staged`` gives every row back as a dict.
StagedRecord = Mapping[str, Any] | MemberRecord


class ImportDataRepository(Protocol):
    """The import engine's persistence: staging, the set-based reads and writes of a batch, the
    enrichment work list, and the undo log (``uow.imports``)."""

    # --- staging --------------------------------------------------------------------------

    async def stage(
        self, job_id: str, entity: str, rows: Sequence[tuple[int, StagedRecord]]
    ) -> None:
        """Keep ``(seq, record)`` rows of ``entity`` for the job (seqs are new)."""
        ...

    async def staged(
        self, job_id: str, entity: str, *, from_seq: int, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` staged rows with ``seq >= from_seq``, in seq order."""
        ...

    async def drop_staged(
        self, job_id: str, *, entity: str | None = None, from_seq: int = 0
    ) -> None:
        """Forget staged rows of the job (of one entity, from ``from_seq`` on)."""
        ...

    # --- the reads a batch decides on -----------------------------------------------------

    async def existing_members(
        self, org_id: str, emails: Sequence[str]
    ) -> dict[str, ExistingMember]:
        """What is stored for each of ``emails`` (normalised), by email; absent: unknown."""
        ...

    async def plans_by_name(
        self, org_id: str, names: Sequence[str] | None = None
    ) -> dict[str, Plan]:
        """The org's plans by name (all of them when ``names`` is None)."""
        ...

    async def leads_by_key(
        self, org_id: str, emails: Sequence[str], phones: Sequence[str]
    ) -> dict[str, Lead]:
        """Stored leads matching by email, or (for leads without one) by phone, keyed by
        :func:`~fitdata_core.rules.import_merge.lead_key`."""
        ...

    # --- writes ---------------------------------------------------------------------------

    async def write_members(self, writes: MemberWrites) -> None:
        """Insert and update the batch's users, memberships and profiles.

        An update only touches a row whose values differ (``IS DISTINCT FROM``). Raises
        ``Conflict`` when a row appeared meanwhile (a user signed up with the same email):
        the caller retries the batch, which then sees it.
        """
        ...

    async def apply_staged_members(
        self,
        job_id: str,
        org_id: str,
        *,
        from_seq: int,
        limit: int,
        source: str,
        now: datetime,
    ) -> AppliedMembers | None:
        """Apply up to ``limit`` staged member rows (``seq >= from_seq``) in the database
        itself: decide by the rules of :func:`~fitdata_core.rules.import_merge.merge_members`,
        write users, memberships, profiles and the undo log set-based, and say what was done.
        None when this backend has no such path (the engine then reads the rows, decides in
        Python and writes with :meth:`write_members`). Raises ``Conflict`` like
        :meth:`write_members`."""
        ...

    async def write_plans(self, writes: PlanWrites) -> None: ...

    async def write_leads(self, writes: LeadWrites) -> None: ...

    async def imported_profiles(
        self, org_id: str, source: str, *, offset: int, limit: int
    ) -> list[MemberProfile]:
        """Profiles from ``source`` (with an external id), ordered by user id: enrichment's
        work list."""
        ...

    async def fill_profiles(self, profiles: Sequence[MemberProfile]) -> None:
        """Store the enrichment fields of ``profiles`` where the stored value is empty."""
        ...

    async def analyze(self) -> None:
        """Refresh the planner's statistics of the touched tables after a bulk load
        (``ANALYZE`` on Postgres; nothing elsewhere)."""
        ...

    # --- undo -----------------------------------------------------------------------------

    async def add_changes(self, job_id: str, changes: Sequence[RowChange]) -> None: ...

    async def changes(self, job_id: str) -> list[RowChange]:
        """The job's changes in the order they were made."""
        ...

    async def current(self, org_id: str, entity: str, key: str) -> dict[str, Any] | None:
        """The tracked fields (:data:`~fitdata_core.rules.import_merge.TRACKED_FIELDS`) of
        one row as plain JSON values, or None when it is gone."""
        ...

    async def restore(
        self, org_id: str, entity: str, key: str, values: Mapping[str, Any] | None
    ) -> None:
        """Put ``values`` back into the row, or delete it when ``values`` is None."""
        ...

    async def membership_count(self, user_id: str) -> int:
        """How many organizations the user belongs to."""
        ...


__all__ = ["ImportDataRepository"]
