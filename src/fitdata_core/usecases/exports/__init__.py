"""Exports: the members CSV export (queued, stored, emailed) and the analytics tabs.

Public API (all async, ``Services`` first):

- :func:`request_member_export` → job id (``str``)
- :func:`process_member_export` → the job as it ends (worker handler for ``export_members``)
- :func:`list_export_jobs` → ``Page[ExportJob]``; :func:`get_export_job` → :class:`ExportJobView`
- :func:`analytics_rows` → ``(header, rows)``; :func:`analytics_table` → :class:`AnalyticsTable`
- :func:`sweep_exports` (scheduled job ``exports_fail_stale``) runs :func:`fail_stale_exports`
  → the stuck jobs it failed, :func:`resend_waiting_exports` → the pending jobs sent again or
  failed, and :func:`remove_abandoned_export_files` → how many partial files it deleted
"""

from fitdata_core.usecases.exports.analytics import AnalyticsTable, analytics_rows, analytics_table
from fitdata_core.usecases.exports.jobs import ExportJobView, get_export_job, list_export_jobs
from fitdata_core.usecases.exports.members import (
    DOWNLOAD_LINK_TTL,
    export_download_name,
    export_file_key,
    process_member_export,
    request_member_export,
)
from fitdata_core.usecases.exports.stale import (
    MAX_EXPORT_DISPATCHES,
    MESSAGE_NEVER_STARTED,
    MESSAGE_STALE,
    STALE_EXPORT_AFTER,
    fail_stale_exports,
    remove_abandoned_export_files,
    resend_waiting_exports,
    sweep_exports,
)

__all__ = [
    "DOWNLOAD_LINK_TTL",
    "MAX_EXPORT_DISPATCHES",
    "MESSAGE_NEVER_STARTED",
    "MESSAGE_STALE",
    "STALE_EXPORT_AFTER",
    "AnalyticsTable",
    "ExportJobView",
    "analytics_rows",
    "analytics_table",
    "export_download_name",
    "export_file_key",
    "fail_stale_exports",
    "get_export_job",
    "list_export_jobs",
    "process_member_export",
    "remove_abandoned_export_files",
    "request_member_export",
    "resend_waiting_exports",
    "sweep_exports",
]
