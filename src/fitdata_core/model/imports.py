"""What an import job reports as it goes: counts per entity, row problems, progress.

These are the values :class:`~fitdata_core.model.jobs.ImportJob` carries besides its status.
They are plain frozen values with ``to_dict``/``from_dict`` so the SQL adapter can keep them
in JSON columns and the HTTP layer can show them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, overload

import attrs

MAX_REPORTED_ROW_ERRORS = 1000
"""How many row problems a job keeps in detail; the counts go on past it."""


class ImportEntity(StrEnum):
    """What an import brings in, in the order the engine runs them."""

    PLANS = "plans"
    MEMBERS = "members"
    LEADS = "leads"
    ENRICHMENT = "enrichment"


class Severity(StrEnum):
    """How bad a row problem is: the row failed (error), or it landed with a value dropped or
    doubtful (warning)."""

    ERROR = "error"  # the row was not imported
    WARNING = "warning"  # the row was imported; a value was dropped or is doubtful


@attrs.frozen
class RowProblem:
    """One problem with one source row: which row (source id, email), which field, why."""

    entity: ImportEntity
    reason: str
    severity: Severity = Severity.ERROR
    source_id: str | None = None
    email: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity.value,
            "severity": self.severity.value,
            "sourceId": self.source_id,
            "email": self.email,
            "field": self.field,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowProblem:
        return cls(
            entity=ImportEntity(data["entity"]),
            severity=Severity(data.get("severity", Severity.ERROR.value)),
            source_id=data.get("sourceId"),
            email=data.get("email"),
            field=data.get("field"),
            reason=str(data["reason"]),
        )


class StoredProblems(Sequence[RowProblem]):
    """Row problems as a job's JSON column holds them, decoded only when someone reads one.

    Every step of a running import loads its job and saves it back, and a big import keeps
    :data:`MAX_REPORTED_ROW_ERRORS` problems from its first page on: decoding them into
    :class:`RowProblem` values each time (about 10 ms for a full list) and encoding them again
    was most of a step's own cost, for a list the step only counts and appends to. Here
    ``len``, appending (:meth:`plus`) and writing back (:meth:`to_dicts`) use the stored
    dicts as they are; indexing or iterating decodes them once."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Iterable[Mapping[str, Any]]) -> None:
        self._raw = tuple(raw)
        self._decoded: tuple[RowProblem, ...] | None = None

    def _items(self) -> tuple[RowProblem, ...]:
        if self._decoded is None:
            self._decoded = tuple(RowProblem.from_dict(p) for p in self._raw)
        return self._decoded

    @overload
    def __getitem__(self, index: int) -> RowProblem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RowProblem]: ...

    def __getitem__(self, index: int | slice) -> RowProblem | Sequence[RowProblem]:
        return self._items()[index]

    def __iter__(self) -> Iterator[RowProblem]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredProblems):
            return self._raw == other._raw or self._items() == other._items()
        if isinstance(other, Sequence):
            return self._items() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items())

    def __repr__(self) -> str:
        return f"StoredProblems({len(self._raw)} problems)"

    def plus(self, more: Iterable[RowProblem]) -> StoredProblems:
        """These problems and ``more`` after them, still undecoded."""
        return StoredProblems((*self._raw, *(p.to_dict() for p in more)))

    def to_dicts(self) -> list[Mapping[str, Any]]:
        """The problems as :meth:`RowProblem.to_dict` gives them, for the JSON column."""
        return list(self._raw)


@attrs.frozen
class Tally:
    """What happened to the rows of one entity. Every source row lands in exactly one count."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            *(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )

    @property
    def rows(self) -> int:
        return sum(attrs.astuple(self))

    def to_dict(self) -> dict[str, int]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        return cls(**{f.name: int(data.get(f.name, 0)) for f in attrs.fields(cls)})


@attrs.frozen
class Progress:
    """``processed`` of ``total`` rows of one entity (``total`` is None until it is known)."""

    processed: int = 0
    total: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"processed": self.processed, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Progress:
        total = data.get("total")
        return cls(int(data.get("processed", 0)), None if total is None else int(total))


@attrs.frozen
class ImportReport:
    """Counts, progress and the (capped) list of row problems of one import job."""

    results: Mapping[str, Tally] = attrs.field(factory=dict)
    progress: Mapping[str, Progress] = attrs.field(factory=dict)
    problems: Sequence[RowProblem] = ()
    error_count: int = 0
    warning_count: int = 0

    def tally(self, entity: ImportEntity) -> Tally:
        return self.results.get(entity.value, Tally())

    def with_batch(
        self,
        entity: ImportEntity,
        tally: Tally,
        problems: Iterable[RowProblem] = (),
        *,
        processed: int = 0,
        total: int | None = None,
    ) -> ImportReport:
        """This report plus one batch: its counts, its problems (kept up to the cap) and
        ``processed`` more rows done (``total``, when given, replaces the known total)."""
        new = list(problems)
        room = max(0, MAX_REPORTED_ROW_ERRORS - len(self.problems))
        before = self.progress.get(entity.value, Progress())
        progress = Progress(before.processed + processed, before.total if total is None else total)
        return ImportReport(
            results={**self.results, entity.value: self.tally(entity) + tally},
            progress={**self.progress, entity.value: progress},
            problems=_joined(self.problems, new[:room]),
            error_count=self.error_count + sum(p.severity is Severity.ERROR for p in new),
            warning_count=self.warning_count + sum(p.severity is Severity.WARNING for p in new),
        )

    def with_total(self, entity: ImportEntity, total: int) -> ImportReport:
        before = self.progress.get(entity.value, Progress())
        return attrs.evolve(
            self, progress={**self.progress, entity.value: Progress(before.processed, total)}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": {k: v.to_dict() for k, v in self.results.items()},
            "progress": {k: v.to_dict() for k, v in self.progress.items()},
            "errors": (
                self.problems.to_dicts()
                if isinstance(self.problems, StoredProblems)
                else [p.to_dict() for p in self.problems]
            ),
            "errorCount": self.error_count,
            "warningCount": self.warning_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportReport:
        return cls(
            results={k: Tally.from_dict(v) for k, v in (data.get("results") or {}).items()},
            progress={k: Progress.from_dict(v) for k, v in (data.get("progress") or {}).items()},
            problems=StoredProblems(data.get("errors") or ()),
            error_count=int(data.get("errorCount", 0)),
            warning_count=int(data.get("warningCount", 0)),
        )


def _joined(kept: Sequence[RowProblem], more: Sequence[RowProblem]) -> Sequence[RowProblem]:
    if not more:
        return kept  # as it was: a full list stays undecoded
    if isinstance(kept, StoredProblems):
        return kept.plus(more)
    return (*kept, *more)


__all__ = [
    "MAX_REPORTED_ROW_ERRORS",
    "ImportEntity",
    "ImportReport",
    "Progress",
    "RowProblem",
    "Severity",
    "StoredProblems",
    "Tally",
]
