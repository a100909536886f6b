"""Imports: the provider credentials an import uses, the engine (durable, batched,
idempotent) and the use cases around its jobs."""

from fitdata_core.usecases.imports.credentials import resolve_source_credentials
from fitdata_core.usecases.imports.engine import (
    MESSAGE_AUTH,
    run_import,
    take_over_imports,
)
from fitdata_core.usecases.imports.jobs import (
    ACTIVE_IMPORT_MESSAGE,
    ImportRequest,
    cancel_import,
    get_import_job,
    list_import_jobs,
    list_leads,
    start_import,
    undo_import,
)
from fitdata_core.usecases.imports.member_fields import (
    MEMBER_FIELD_ATTRIBUTES,
    written_member_fields,
)
from fitdata_core.usecases.imports.retention import DeletedImportFile, sweep_import_files
from fitdata_core.usecases.imports.undo import UndoConflict, UndoReport

__all__ = [
    "ACTIVE_IMPORT_MESSAGE",
    "MEMBER_FIELD_ATTRIBUTES",
    "MESSAGE_AUTH",
    "DeletedImportFile",
    "ImportRequest",
    "UndoConflict",
    "UndoReport",
    "cancel_import",
    "get_import_job",
    "list_import_jobs",
    "list_leads",
    "resolve_source_credentials",
    "run_import",
    "start_import",
    "sweep_import_files",
    "take_over_imports",
    "undo_import",
    "written_member_fields",
]
