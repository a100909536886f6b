"""The import engine: runs an import job in bounded, checkpointed, leased slices.

A job runs as a sequence of *steps*, each one transaction that locks the job row, checks the
caller still holds the job's lease, does one batch of work and records it (counts, row
problems, checkpoint, renewed lease) in the same commit. So a batch either landed and is
counted, or did not happen; a worker that dies loses at most the batch it was doing, and
whoever takes over resumes from the checkpoint. Writes are idempotent (upserts that compare
before writing), so even a batch done twice lands once.

Order of work (phases): plans (one step: upsert by name), members, leads, then the optional
enrichment. Members and leads each take two kinds of steps: *stage* (one source page, checked
and normalised by :mod:`~fitdata_core.rules.import_values`, into the staging area; bad rows
are recorded as problems, the rest wait) and *apply* (up to ``batch_size`` staged rows,
merged by :mod:`~fitdata_core.rules.import_merge` and written set-based). A backend that
applies staged members itself (Postgres: ``uow.imports.apply_staged_members``, the same
rules in SQL) takes ``set_batch_size`` rows a step instead, and no row comes back to Python.
While a page is staged, the source's next page is already being fetched (one page ahead), so
the source's latency overlaps the database work. And with ``ImportPolicy.apply_while_staging``
(on for Postgres), the rows staged so far are applied while the next page is checked and
staged: the page's checks run in a worker thread and its rows are written to the staging
area before the stage step locks the job, the apply step's statements run in the database
meanwhile, and the two steps, one transaction each, take the job's lock in turn. A round
takes about the longer of the two instead of both.

A source that reads its rows itself (a CSV file, bulk-loaded into the staging table at
upload or confirm time, ``COPY`` on Postgres) stages them with the same records
(:class:`~fitdata_core.rules.import_values.MemberRecord`, ``PlanRecord``, ``LeadRecord``
``.to_dict()``) and creates its job with the checkpoint already saying so
(``{"members.fetched": 1, "members.rows": n, "members.seen": n}``, likewise ``plans.*`` and
``leads.*``, and its row problems in the report): the engine then only applies.

A CSV or Excel upload (``source="csv"``) is read by the stage steps themselves: its pages are
the stored file's rows under the confirmed mapping (``svc.import_files``, see
:mod:`~fitdata_core.usecases.imports.csv_source`), checked by
:mod:`~fitdata_core.rules.csv_records`, so a taken-over job re-reads the file and skips the
pages its checkpoint says were staged. An upload not confirmed yet is no work: a worker that
meets it after its preview lease cancels it as stale.

A queue message (``import_run``) runs one *slice*: at most ``slice_batches`` steps or
``slice_seconds``, then hands the job off and queues its own continuation through the outbox,
so no message outlives the queue's time limit and a 1,000-row batch never costs more than one
message. The take-over sweep (``imports_take_over``, every 15 s) re-queues active jobs whose
lease ended: a killed worker's job resumes within about a minute, without relying on the
broker redelivering anything.

Transient failures (the database or the provider unavailable, a unique-key race) retry the
step with backoff and then fail the job with the reason; a provider's 401 fails it at once,
telling the owner to re-enter the credentials. A cancel stops the job before its next step;
what landed stays and is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import attrs

from fitdata_core.errors import (
    Conflict,
    CredentialsUnreadable,
    IllegalTransition,
    InvalidInput,
    ProviderAuthError,
    Unavailable,
)
from fitdata_core.gc_pause import collector_paused
from fitdata_core.job_names import IMPORT_RUN
from fitdata_core.model.imports import ImportEntity, RowProblem, Tally
from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.ports.imports import StagedRecord
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.rules.import_merge import (
    ENRICH_FIELDS,
    UPDATED,
    RowChange,
    enrich_profile,
    merge_leads,
    merge_members,
    merge_plans,
)
from fitdata_core.rules.import_values import (
    LeadRecord,
    MemberRecord,
    PlanRecord,
    lead_record,
    member_record,
    plan_record,
)
from fitdata_core.services import Services
from fitdata_core.usecases.imports import csv_source
from fitdata_core.usecases.imports.credentials import resolve_source_credentials
from fitdata_core.usecases.imports.csv_source import awaiting_confirmation, in_columns
from fitdata_core.usecases.imports.member_fields import keep_member_fields

log = logging.getLogger("fitdata.imports")

"""The worker job that runs one slice of an import (argument ``job_id``)."""
"""The scheduled sweep that wakes imports whose lease ended."""

MESSAGE_AUTH = (
    "Arbox refused the credentials (401 Unauthorized): re-enter the Arbox credentials "
    "and run the import again."
)
MESSAGE_UNEXPECTED = "The import failed unexpectedly; please try again."


def job_credentials_context(job_id: str) -> str:
    """What a job's one-off credentials are sealed to."""
    return f"import-job:{job_id}"


class _LeaseLost(Exception):
    """Another worker holds the job now (this one was too slow); stop quietly."""


class _Fatal(Exception):
    """End the job as failed with ``message`` (no retry)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _wrote(job: ImportJob) -> bool:
    """Whether the job created or changed any row (of any entity, enrichment included)."""
    return any(t.created or t.updated for t in job.report.results.values())


def _entities(job: ImportJob) -> dict[str, bool]:
    wanted = job.config.get("entities") or {}
    return {name: bool(wanted.get(name)) for name in ("plans", "members", "leads")}


def _whitelist(job: ImportJob) -> frozenset[str] | None:
    emails = job.config.get("emailWhitelist")
    if not emails:
        return None
    return frozenset(str(e).strip().lower() for e in emails)


def _written(job: ImportJob) -> tuple[str, ...] | None:
    """The member fields the job writes (its ``memberFields``); None: every field."""
    fields = job.config.get("memberFields")
    return None if fields is None else tuple(fields)


# Attributes every log record has: an ``extra`` field of the same name is renamed.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _log(job: ImportJob, event: str, **fields: Any) -> None:
    """One structured line per phase, batch and ending, naming the job and its org."""
    extra = {"job_id": job.id, "org_id": job.organization_id}
    for key, value in fields.items():
        extra[f"{key}_count" if key in _RECORD_ATTRIBUTES else key] = value
    log.info("import %s", event, extra=extra)


_END: Any = object()


class _ReadAhead:
    """A source listing that asks for its next page as soon as it hands one out, so the
    source's latency (a request per page) overlaps the staging of the page in hand instead
    of adding to it. One page ahead at most: memory stays a page."""

    def __init__(self, pages: AsyncIterator[Sequence[Any]]) -> None:
        self._pages = pages
        self._ahead: asyncio.Task[Any] | None = None

    async def _fetch(self) -> Any:
        try:
            return await anext(self._pages)
        except StopAsyncIteration:
            return _END

    def __aiter__(self) -> _ReadAhead:
        return self

    async def __anext__(self) -> Sequence[Any]:
        ahead, self._ahead = self._ahead, None
        page = await (ahead if ahead is not None else self._fetch())
        if page is _END:
            raise StopAsyncIteration
        self._ahead = asyncio.ensure_future(self._fetch())
        # A page fetched ahead that nobody asks for (cancel, hand-off elsewhere) must not
        # log "exception never retrieved": its failure counts when it is asked for.
        self._ahead.add_done_callback(lambda t: t.cancelled() or t.exception())
        return page  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop reading ahead (the listing is abandoned)."""
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None


@attrs.define
class _OpenPages:
    """A source listing left open by a slice, for the continuation to go on reading."""

    loop: asyncio.AbstractEventLoop
    entity: str
    pages: AsyncIterator[Sequence[Any]]
    read: int


# The source's listings have no resume cursor: a continuation that opened the listing again
# would fetch every page already staged once more (quadratic over a big import). So a slice
# that hands off leaves its open listing here, and the continuation, when it runs in the same
# process and event loop (the usual case), reads on from it. Anywhere else it re-opens the
# listing and skips the staged pages: slower, never wrong.
_OPEN_PAGES: dict[str, _OpenPages] = {}
_MAX_OPEN_PAGES = 32


class _Run:
    """One slice of one job by one worker (``owner``)."""

    def __init__(self, svc: Services, job_id: str, owner: str, settings: ImportPolicy) -> None:
        self.svc = svc
        self.job_id = job_id
        self.owner = owner
        self.settings = settings
        self._credentials: SourceCredentials | None = None
        self._pages: AsyncIterator[Sequence[Any]] | None = None
        self._pages_entity: str | None = None
        self._pages_read = 0
        # The job as the run loop read it to choose the step it starts next: a stage step
        # takes its checkpoint from there instead of reading the job again (the job's row
        # carries its report, up to a thousand problems: milliseconds to load). Used once.
        self._chosen_from: ImportJob | None = None
        kept = _OPEN_PAGES.pop(job_id, None)
        if kept is not None and kept.loop is asyncio.get_running_loop():
            self._pages, self._pages_entity, self._pages_read = kept.pages, kept.entity, kept.read

    def _drop_pages(self) -> None:
        if isinstance(self._pages, _ReadAhead):
            self._pages.close()
        self._pages = None

    def keep_pages(self) -> None:
        """Leave the open listing for this job's continuation (see :data:`_OPEN_PAGES`)."""
        if self._pages is None or self._pages_entity is None:
            return
        while len(_OPEN_PAGES) >= _MAX_OPEN_PAGES:
            _OPEN_PAGES.pop(next(iter(_OPEN_PAGES)))
        _OPEN_PAGES[self.job_id] = _OpenPages(
            asyncio.get_running_loop(), self._pages_entity, self._pages, self._pages_read
        )

    # --- plumbing -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.svc.clock.now()

    async def _locked(self, uow: UnitOfWork) -> ImportJob:
        job = await uow.import_jobs.get_for_update(self.job_id)
        if job is None or not job.is_active or job.lease_owner != self.owner:
            raise _LeaseLost()
        return job

    async def _save(self, uow: UnitOfWork, job: ImportJob) -> ImportJob:
        now = self.now()
        job = job.take_lease(self.owner, now, now + self.settings.lease)
        await uow.import_jobs.update(job)
        await uow.commit()
        return job

    async def credentials(self, job: ImportJob) -> SourceCredentials:
        if self._credentials is None:
            if job.credentials_sealed is not None and job.credentials_key_id is not None:
                plain = self.svc.cipher.decrypt(
                    Ciphertext(job.credentials_key_id, job.credentials_sealed),
                    context=job_credentials_context(job.id),
                )
                data = json.loads(plain)
                self._credentials = SourceCredentials(
                    api_key=data.get("apiKey"),
                    email=data.get("email"),
                    password=data.get("password"),
                )
            else:
                self._credentials = await resolve_source_credentials(
                    self.svc, job.organization_id, None
                )
        return self._credentials

    # --- claiming, handing off, ending ----------------------------------------------------

    async def _forget_file(self, job: ImportJob) -> None:
        # Nothing reads a never-confirmed upload's file again (a replaced one's is deleted the
        # same way). A file left behind (storage down) is harmless.
        key = (job.config.get("file") or {}).get("key")
        if key:
            with contextlib.suppress(Unavailable):
                await self.svc.storage.delete(str(key))

    async def claim(self) -> ImportJob | None:
        now = self.now()
        async with self.svc.uow() as uow:
            job = await uow.import_jobs.get_for_update(self.job_id)
            if job is None or not job.is_active or not job.lease_free_for(self.owner, now):
                return None
            if awaiting_confirmation(job):
                # An upload nobody confirmed: not work yet. Woken after its preview lease, it
                # is stale and ends (the org may import again).
                job, _ = job.cancel(now)
                await uow.import_jobs.update(job)
                await uow.commit()
                _log(job, "cancelled: the upload was never confirmed")
                await self._forget_file(job)
                return None
            took_over = job.lease_owner not in (None, self.owner)
            if job.status is ImportStatus.PENDING:
                job, _ = job.start(now)
            job = job.take_lease(self.owner, now, now + self.settings.lease)
            await uow.import_jobs.update(job)
            await uow.commit()
        _log(job, "took over" if took_over else "claimed", phase=job.phase.value, owner=self.owner)
        return job

    async def hand_off(self) -> None:
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            job = job.hand_off(self.now() + self.settings.lease)
            await uow.import_jobs.update(job)
            await uow.outbox.add(self.svc.job(IMPORT_RUN, job_id=job.id))
            # Before the commit makes the continuation visible; if the commit fails, whoever
            # runs the job next checks the kept position against the checkpoint anyway.
            self.keep_pages()
            await uow.commit()
        _log(job, "continues in a new message", phase=job.phase.value)

    async def finish(self, end: Callable[[ImportJob, datetime], ImportJob]) -> ImportJob:
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            job = end(job, self.now())
            await uow.import_jobs.update(job)
            await uow.imports.drop_staged(job.id)
            await uow.commit()
        _log(job, job.status.value, error=job.error_message or "")
        if job.status is ImportStatus.COMPLETED and not job.dry_run and _wrote(job):
            # The planner's statistics after a bulk load (stale ones turned the member list
            # from milliseconds into seconds). An import that wrote nothing (an identical
            # re-import) changed no statistic: no ANALYZE, which costs a second or more on
            # big tables.
            async with self.svc.uow() as uow:
                await uow.imports.analyze()
                await uow.commit()
        return job

    # --- deciding the next step -----------------------------------------------------------

    def next_step(self, job: ImportJob) -> Callable[[], Awaitable[None]] | ImportPhase | None:
        """The next step to run, a phase to enter, or None when the job is done."""
        wanted = _entities(job)
        cp = job.checkpoint
        phase = job.phase
        if phase is ImportPhase.QUEUED:
            return ImportPhase.PLANS
        if phase is ImportPhase.PLANS:
            if wanted["plans"] and not cp.get("plans.done"):
                return self.step_plans
            return ImportPhase.MEMBERS
        if phase is ImportPhase.MEMBERS:
            if wanted["members"]:
                if not cp.get("members.fetched"):
                    return self.step_stage_members
                if cp.get("members.applied", 0) < cp.get("members.rows", 0):
                    return self.step_apply_members
            return ImportPhase.LEADS
        if phase is ImportPhase.LEADS:
            if wanted["leads"]:
                if not cp.get("leads.fetched"):
                    return self.step_stage_leads
                if cp.get("leads.applied", 0) < cp.get("leads.rows", 0):
                    return self.step_apply_leads
            return ImportPhase.ENRICH
        if phase is ImportPhase.ENRICH:
            # Only a source with a per-member detail call enriches (Arbox, not a CSV file).
            enrichable = job.source is ImportSource.ARBOX
            if enrichable and wanted["members"] and job.enrich and not cp.get("enrich.finished"):
                return self.step_enrich
            return None
        return None

    def apply_beside(
        self, job: ImportJob, step: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]] | None:
        """The apply step to run beside stage ``step``, when rows staged earlier wait for it
        and the policy allows it (``ImportPolicy.apply_while_staging``).

        A stage step is mostly this process's CPU (checking a page), an apply step mostly the
        database's (the set-based merge on Postgres): side by side they take about the
        longer of the two instead of both. They stay one transaction each and take the
        job's lock in turn, so each records its own checkpoint and counts on the job as the
        other left it; the apply step takes only rows whose staging committed, in order."""
        if not self.settings.apply_while_staging:
            return None
        pairs: dict[Callable[[], Awaitable[None]], tuple[str, Callable[[], Awaitable[None]]]]
        pairs = {
            self.step_stage_members: ("members", self.step_apply_members),
            self.step_stage_leads: ("leads", self.step_apply_leads),
        }
        beside = pairs.get(step)
        if beside is None:
            return None
        name, apply = beside
        cp = job.checkpoint
        return apply if cp.get(f"{name}.applied", 0) < cp.get(f"{name}.rows", 0) else None

    async def enter(self, phase: ImportPhase) -> ImportJob:
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            job, _ = job.enter_phase(phase, self.now())
            job = await self._save(uow, job)
        _log(job, "phase", phase=phase.value)
        return job

    # --- steps ----------------------------------------------------------------------------

    async def step_plans(self) -> None:
        async with self.svc.uow(read_only=True) as uow:
            job = await uow.import_jobs.get(self.job_id)
        assert job is not None
        records: list[PlanRecord] = []
        problems: list[RowProblem] = []
        if job.checkpoint.get("plans.fetched"):
            # A source that staged its own plans (a CSV file): they are checked already.
            async with self.svc.uow(read_only=True) as uow:
                staged = await uow.imports.staged(job.id, "plans", from_seq=0, limit=10_000)
            records = [PlanRecord.from_dict(data) for _, data in staged]
            rows = len(records)
        elif job.source is ImportSource.CSV:
            rows, records, problems = await csv_source.plans(self.svc, job)
        else:
            plans = await self.svc.member_source.fetch_plans(await self.credentials(job))
            rows = len(plans)
            for plan in plans:
                record, found = plan_record(plan)
                problems += found
                if record is not None:
                    records.append(record)
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            existing = await uow.imports.plans_by_name(job.organization_id)
            writes = merge_plans(
                job.organization_id, records, existing, now=self.now(), new_id=self.svc.ids.new_id
            )
            if job.dry_run:
                # Members of a dry run link to the plans the run would have made.
                await uow.imports.stage(
                    job.id,
                    "plan_names",
                    [(i, {"name": p.name}) for i, p in enumerate(writes.new_plans)],
                )
            else:
                await uow.imports.write_plans(writes)
                await uow.imports.add_changes(job.id, writes.changes)
            failed = rows - len(records)
            tally = writes.tally + Tally(failed=failed)
            report = job.report.with_batch(
                ImportEntity.PLANS,
                tally,
                problems + writes.problems,
                processed=rows,
                total=rows,
            )
            job, _ = job.record_batch(self.now(), report, {"plans.done": 1})
            job = await self._save(uow, job)
        _log(job, "batch", entity="plans", rows=rows, **tally.to_dict())

    async def _next_page(
        self, job: ImportJob, entity: str, *, taken: int = 0
    ) -> Sequence[Any] | None:
        """The next source page of ``entity`` (None at the end), resuming after the pages the
        checkpoint says were staged and the ``taken`` ones this step holds already."""
        done = job.checkpoint.get(f"{entity}.pages", 0) + taken
        if self._pages is None or self._pages_entity != entity or self._pages_read != done:
            pages: AsyncIterator[Sequence[Any]]
            self._drop_pages()
            if job.source is ImportSource.CSV:
                # A stored file starts at any row: the staged ones are read past, not mapped.
                # Counted in rows the checkpoint saw (not pages), so a page size changed while
                # the job waited cannot skip or repeat a row; the pages this step holds
                # already were read in this run, at this page size, and are full ones.
                # Read ahead, the next page is parsed while this one is checked and staged.
                page_rows = self.settings.file_page_rows
                skip = job.checkpoint.get(f"{entity}.seen", 0) + taken * page_rows
                pages = _ReadAhead(csv_source.pages(self.svc, job, page_rows, skip_rows=skip))
                self._pages, self._pages_entity, self._pages_read = pages, entity, done
            else:
                credentials = await self.credentials(job)
                source = self.svc.member_source
                pages = _ReadAhead(
                    source.fetch_members(credentials)
                    if entity == "members"
                    else source.fetch_leads(credentials)
                )
                self._pages, self._pages_entity, self._pages_read = pages, entity, 0
            while self._pages_read < done:
                try:
                    await anext(self._pages)
                except StopAsyncIteration:
                    break
                self._pages_read += 1
        try:
            page = await anext(self._pages)
        except StopAsyncIteration:
            return None
        self._pages_read += 1
        return page

    async def _stage(
        self, entity: ImportEntity, check: Callable[[Any], tuple[Any, list[RowProblem]]]
    ) -> None:
        # What this step reads of the job before its lock, only it changes (``{name}.rows``,
        # ``.pages``, ``.seen``): the run loop's read is as good as a new one, and the check
        # under the lock below holds either way. A retry reads the job again.
        job, self._chosen_from = self._chosen_from, None
        if job is None:
            async with self.svc.uow(read_only=True) as uow:
                job = await uow.import_jobs.get(self.job_id)
        assert job is not None
        # The collector stays off for the whole step, and every object of the page (its source
        # rows, records and problems) is freed by reference counting when ``_stage_page``
        # returns, inside the pause: a collection while they live (set off by any allocation,
        # the first one after a pause ends included) walks every one of them, about 15 ms a
        # 10,000-row page.
        with collector_paused():
            await self._stage_page(job, entity, check)

    async def _stage_page(
        self,
        job: ImportJob,
        entity: ImportEntity,
        check: Callable[[Any], tuple[Any, list[RowProblem]]],
    ) -> None:
        name = entity.value
        # Pages until ``stage_rows`` rows (one transaction for several small pages), or the end;
        # a file's page is a step of its own (``file_page_rows``).
        step_rows = (
            self.settings.file_page_rows
            if job.source is ImportSource.CSV
            else self.settings.stage_rows
        )
        taken: list[Sequence[Any]] = []
        try:
            while sum(len(p) for p in taken) < step_rows:
                page = await self._next_page(job, name, taken=len(taken))
                if page is None:
                    break
                taken.append(page)
        except BaseException:
            self._drop_pages()  # a broken iterator is re-opened on the retry
            raise
        items = [item for page in taken for item in page]
        whitelist = _whitelist(job) if entity is ImportEntity.MEMBERS else None
        if job.source is ImportSource.CSV:
            check = csv_source.check(entity, today=csv_source.today_of(job, self.now().date()))
        # ``memberFields`` belongs to a provider import; a CSV file's mapping says what it writes.
        written = (
            _written(job)
            if entity is ImportEntity.MEMBERS and job.source is not ImportSource.CSV
            else None
        )
        # The rows are checked before the job is locked, in a worker thread: an apply step
        # running beside this one (see ``_Run.run``) holds the job's lock meanwhile, and its
        # statements are answered on this event loop while the check runs.
        seq = job.checkpoint.get(f"{name}.rows", 0)
        checked = (
            await asyncio.to_thread(_check_page, items, check, whitelist, written, seq)
            if items
            else _CheckedPage()
        )
        # The rows go in (COPY on Postgres) before the job is locked, at the positions the
        # checkpoint read at the start of this step gives: an apply step running beside this
        # one holds the lock for its whole transaction, so staging after the lock would wait
        # for the whole apply instead of running beside it. Nobody else moves these
        # positions while this worker holds the lease (an apply step only reads staged rows,
        # and sees these once they commit); if someone did, the check under the lock below
        # rolls the rows back with the transaction.
        rows = checked.rows
        skipped, failed, problems = checked.skipped, checked.failed, checked.problems
        async with self.svc.uow() as uow:
            if rows:
                await uow.imports.stage(job.id, name, rows)
            job = await self._locked(uow)
            cp = job.checkpoint
            moved = cp.get(f"{name}.rows", 0) != seq
            if moved or cp.get(f"{name}.pages", 0) != self._pages_read - len(taken):
                self._drop_pages()  # someone else staged meanwhile; re-read from the checkpoint
                return  # (and the rows staged above roll back with this unit of work)
            if not taken:
                report = job.report.with_total(entity, cp.get(f"{name}.seen", 0))
                job, _ = job.record_batch(self.now(), report, {f"{name}.fetched": 1})
                await self._save(uow, job)
                _log(job, "fetched", entity=name, rows=cp.get(f"{name}.seen", 0))
                return
            report = job.report.with_batch(
                entity,
                Tally(skipped=skipped, failed=failed),
                problems,
                processed=skipped + failed,
            )
            job, _ = job.record_batch(
                self.now(),
                report,
                {
                    f"{name}.pages": cp.get(f"{name}.pages", 0) + len(taken),
                    f"{name}.rows": seq + len(rows),
                    f"{name}.seen": cp.get(f"{name}.seen", 0) + len(items),
                },
            )
            job = await self._save(uow, job)
        _log(job, "staged", entity=name, rows=len(items), skipped=skipped, failed=failed)

    async def step_stage_members(self) -> None:
        today = self.now().date()
        await self._stage(ImportEntity.MEMBERS, lambda m: member_record(m, today=today))

    async def step_stage_leads(self) -> None:
        await self._stage(ImportEntity.LEADS, lead_record)

    async def _applied(
        self,
        uow: UnitOfWork,
        job: ImportJob,
        entity: ImportEntity,
        rows: int,
        end: int | None,
        tally: Tally,
        problems: Sequence[RowProblem],
    ) -> None:
        """Record one applied batch of ``entity`` in its own transaction: counts, problems,
        and the checkpoint moved to ``end`` (None: nothing was left, so past every staged
        row), then log it."""
        name = entity.value
        if job.source is ImportSource.CSV:
            problems = in_columns(job, problems)
        if end is None:
            end = job.checkpoint.get(f"{name}.rows", 0)
        report = job.report.with_batch(entity, tally, problems, processed=rows)
        job, _ = job.record_batch(self.now(), report, {f"{name}.applied": end})
        job = await self._save(uow, job)
        _log(job, "batch", entity=name, rows=rows, **tally.to_dict())

    async def step_apply_members(self) -> None:
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            start = job.checkpoint.get("members.applied", 0)
            applied = None
            if not job.dry_run:
                applied = await uow.imports.apply_staged_members(
                    job.id,
                    job.organization_id,
                    from_seq=start,
                    limit=self.settings.set_batch_size,
                    source=job.source.value,
                    now=self.now(),
                )
            if applied is not None:
                # The database applied the batch itself, by the same rules (set-based).
                end = applied.end if applied.rows else None
                await self._applied(
                    uow,
                    job,
                    ImportEntity.MEMBERS,
                    applied.rows,
                    end,
                    applied.tally,
                    applied.problems,
                )
                return
            staged = await uow.imports.staged(
                job.id, "members", from_seq=start, limit=self.settings.batch_size
            )
            records = [MemberRecord.from_dict(data) for _, data in staged]
            existing = await uow.imports.existing_members(
                job.organization_id, [r.email for r in records]
            )
            plans = {
                name: plan.id
                for name, plan in (await uow.imports.plans_by_name(job.organization_id)).items()
            }
            if job.dry_run:
                for _, data in await uow.imports.staged(
                    job.id, "plan_names", from_seq=0, limit=10_000
                ):
                    plans.setdefault(data["name"], "(dry run)")
            writes = merge_members(
                job.organization_id,
                records,
                existing,
                plans,
                source=job.source.value,
                now=self.now(),
                new_id=self.svc.ids.new_id,
            )
            if not job.dry_run:
                await uow.imports.write_members(writes)
                await uow.imports.add_changes(job.id, writes.changes)
            end = staged[-1][0] + 1 if staged else None
            await self._applied(
                uow, job, ImportEntity.MEMBERS, len(staged), end, writes.tally, writes.problems
            )

    async def step_apply_leads(self) -> None:
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            start = job.checkpoint.get("leads.applied", 0)
            staged = await uow.imports.staged(
                job.id, "leads", from_seq=start, limit=self.settings.batch_size
            )
            records = [LeadRecord.from_dict(data) for _, data in staged]
            existing = await uow.imports.leads_by_key(
                job.organization_id,
                [r.email for r in records if r.email],
                [r.phone for r in records if not r.email and r.phone],
            )
            writes = merge_leads(
                job.organization_id, records, existing, now=self.now(), new_id=self.svc.ids.new_id
            )
            if not job.dry_run:
                await uow.imports.write_leads(writes)
                await uow.imports.add_changes(job.id, writes.changes)
            end = staged[-1][0] + 1 if staged else None
            await self._applied(
                uow, job, ImportEntity.LEADS, len(staged), end, writes.tally, writes.problems
            )

    async def step_enrich(self) -> None:
        async with self.svc.uow(read_only=True) as uow:
            job = await uow.import_jobs.get(self.job_id)
            assert job is not None
            offset = job.checkpoint.get("enrich.done", 0)
            profiles = await uow.imports.imported_profiles(
                job.organization_id,
                job.source.value,
                offset=offset,
                limit=self.settings.enrich_batch,
            )
        credentials = await self.credentials(job)
        if not credentials.has_api_key or job.dry_run:
            # The per-member call needs an API key; a dry run does not call the source per
            # member (it would write nothing anyway).
            async with self.svc.uow() as uow:
                job = await self._locked(uow)
                job, _ = job.record_batch(self.now(), job.report, {"enrich.finished": 1})
                await self._save(uow, job)
            return
        gate = asyncio.Semaphore(self.settings.enrich_concurrency)

        async def detail(external_id: str) -> dict[str, str | None] | None:
            async with gate:
                found = await self.svc.member_source.fetch_member_detail(credentials, external_id)
            if found is None:
                return None
            return {name: getattr(found, name) for name in ENRICH_FIELDS}

        details = await asyncio.gather(*(detail(p.external_id or "") for p in profiles))
        filled = []
        changes: list[RowChange] = []
        for profile, values in zip(profiles, details, strict=True):
            if values is None:
                continue
            new = enrich_profile(profile, values)
            if new != profile:
                filled.append(new)
                keys = [k for k in ENRICH_FIELDS if getattr(new, k) != getattr(profile, k)]
                changes.append(
                    RowChange(
                        "profile",
                        profile.user_id,
                        UPDATED,
                        {k: getattr(new, k) for k in keys},
                        {k: getattr(profile, k) for k in keys},
                    )
                )
        async with self.svc.uow() as uow:
            job = await self._locked(uow)
            if job.checkpoint.get("enrich.done", 0) != offset:
                return  # done meanwhile by another worker
            await uow.imports.fill_profiles(filled)
            await uow.imports.add_changes(job.id, changes)
            tally = Tally(updated=len(filled), unchanged=len(profiles) - len(filled))
            report = job.report.with_batch(ImportEntity.ENRICHMENT, tally, processed=len(profiles))
            checkpoint = {"enrich.done": offset + len(profiles)}
            if len(profiles) < self.settings.enrich_batch:
                checkpoint["enrich.finished"] = 1
            job, _ = job.record_batch(self.now(), report, checkpoint)
            job = await self._save(uow, job)
        _log(job, "batch", entity="enrichment", rows=len(profiles), filled=len(filled))

    # --- the slice ------------------------------------------------------------------------

    async def _attempt(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step``, retrying transient failures with backoff; raise ``_Fatal`` to end
        the job."""
        delays = self.settings.retry_delays
        for attempt in range(len(delays) + 1):
            try:
                await step()
                return
            except _LeaseLost:
                raise
            except ProviderAuthError as exc:
                raise _Fatal(MESSAGE_AUTH) from exc
            except CredentialsUnreadable as exc:
                # The stored secret's key left the keyring: the message names it and says
                # what to do; no retry opens it.
                raise _Fatal(exc.message) from exc
            except IllegalTransition:
                raise
            except (Unavailable, Conflict) as exc:
                if attempt == len(delays):
                    raise _Fatal(
                        f"The import stopped after {attempt + 1} attempts: {exc.message}"
                    ) from exc
                log.warning(
                    "import step failed; retrying",
                    extra={
                        "job_id": self.job_id,
                        "attempt": attempt + 1,
                        "error": type(exc).__name__,
                    },
                )
                await asyncio.sleep(delays[attempt])
            except InvalidInput as exc:
                raise _Fatal(exc.message) from exc

    async def _attempt_together(self, *steps: Callable[[], Awaitable[None]]) -> None:
        """:meth:`_attempt` of each of ``steps`` at once. The first to fail stops the others
        (their transactions roll back) and its failure is raised, as if it had run alone."""
        tasks = [asyncio.ensure_future(self._attempt(step)) for step in steps]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and (failure := task.exception()) is not None:
                raise failure

    async def run(self) -> ImportJob | None:
        job = await self.claim()
        if job is None:
            return None
        started = time.monotonic()
        steps = 0
        try:
            while True:
                async with self.svc.uow(read_only=True) as uow:
                    current = await uow.import_jobs.get(self.job_id)
                if current is None or current.lease_owner != self.owner or not current.is_active:
                    return current
                if current.cancel_requested:
                    return await self.finish(lambda j, at: j.cancel(at)[0])
                step = self.next_step(current)
                if step is None:
                    return await self.finish(lambda j, at: j.complete(at)[0])
                if isinstance(step, ImportPhase):
                    await self.enter(step)
                    continue
                if steps >= self.settings.slice_batches or (
                    time.monotonic() - started >= self.settings.slice_seconds
                ):
                    await self.hand_off()
                    return current
                beside = self.apply_beside(current, step)
                self._chosen_from = current
                if beside is None:
                    await self._attempt(step)
                else:  # one round: the two take about as long as the longer one
                    await self._attempt_together(step, beside)
                steps += 1
        except _LeaseLost:
            log.info("import lease lost", extra={"job_id": self.job_id, "owner": self.owner})
            return None
        except _Fatal as exc:
            message = exc.message
            return await self._fail(message)
        except Unavailable:
            # Outside a step (claiming, handing off): leave the job to its lease. The runner
            # may retry the message; if not, the take-over sweep resumes the job.
            raise
        except Exception as exc:  # a bug must end the job, not loop it through take-overs
            self.svc.errors.capture_exception(exc, job_id=self.job_id)
            return await self._fail(MESSAGE_UNEXPECTED)

    async def _fail(self, message: str) -> ImportJob | None:
        try:
            return await self.finish(lambda j, at: j.fail(at, message)[0])
        except _LeaseLost:
            return None


@attrs.define
class _CheckedPage:
    """A page's rows after the value rules: the records to stage (in source order, each with
    its staging position; see :data:`~fitdata_core.ports.imports.StagedRecord`), the problems
    found, and how many rows were skipped or failed."""

    rows: list[tuple[int, StagedRecord]] = attrs.Factory(list)
    problems: list[RowProblem] = attrs.Factory(list)
    skipped: int = 0
    failed: int = 0


def _check_page(
    items: Sequence[Any],
    check: Callable[[Any], tuple[Any, list[RowProblem]]],
    whitelist: frozenset[str] | None,
    written: tuple[str, ...] | None,
    seq: int,
) -> _CheckedPage:
    """Check a page's source rows (pure: safe in a worker thread); the records to stage are
    numbered from ``seq``."""
    page = _CheckedPage()
    # Run inside the stage step's collector pause (see ``_Run._stage``): the rows' records and
    # problems are freed by reference counting, never scanned for cycles.
    for item in items:
        if whitelist is not None and _email_of(item) not in whitelist:
            page.skipped += 1
            continue
        if written is not None:
            item = keep_member_fields(item, written)
        record, found = check(item)
        page.problems += found
        if record is None:
            page.failed += 1
            continue
        # A member record goes to staging as it is (no dict a row), any other as its dict.
        staged = record if isinstance(record, MemberRecord) else record.to_dict()
        page.rows.append((seq + len(page.rows), staged))
    return page


def _email_of(item: Any) -> str:
    email = getattr(item, "email", None)
    return (email or "").strip().lower()


async def run_import(svc: Services, job_id: str, *, owner: str | None = None) -> ImportJob | None:
    """Run one slice of import job ``job_id`` (the ``import_run`` worker job).

    Safe under at-least-once delivery and concurrent messages: only the lease holder works,
    and a job that is not active is left alone. Returns the job as the slice left it (None
    when another worker holds it).
    """
    run = _Run(svc, job_id, owner or svc.ids.new_id(), svc.imports)
    return await run.run()


async def take_over_imports(svc: Services, *, limit: int = 100) -> list[str]:
    """Queue a continuation for every active import whose lease ended (worker killed, message
    lost). Returns their ids. Each job is given a fresh hand-off window so the next sweep does
    not queue it again while the continuation is on its way."""
    settings = svc.imports
    now = svc.clock.now()
    woken: list[str] = []
    async with svc.uow() as uow:
        for job in await uow.import_jobs.list_lease_ended(now, limit=limit):
            await uow.import_jobs.update(job.hand_off(now + settings.lease))
            await uow.outbox.add(svc.job(IMPORT_RUN, job_id=job.id))
            woken.append(job.id)
            _log(job, "lease ended; queued for take-over", phase=job.phase.value)
        await uow.commit()
    return woken


__all__ = [
    "MESSAGE_AUTH",
    "job_credentials_context",
    "run_import",
    "take_over_imports",
]
