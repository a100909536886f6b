"""A local Arbox sandbox serving both APIs of ``arbox-protocol.md`` on one port.

Business API (``api-key`` header) under ``/api/public/v3/``: ``membershipTypes``, ``users``,
``users/{id}`` and ``leads``, paged with ``?page=N&limit=L`` (and Arbox's wrong
``next_page_url``). Management API: ``POST /api/v2/login`` and the two reports under
``/api/manage/v2/reports/`` (bare arrays, streamed). Test controls under ``/_sandbox/`` (see
:data:`CONTROLS`) and the same on the Python handle :class:`ArboxSandbox`; a deterministic
data-set generator (:func:`generate_dataset`) that serves 100,000 members from a few hundred
kilobytes.
"""

from fitdata_adapters.arbox_sandbox.app import create_sandbox_app
from fitdata_adapters.arbox_sandbox.control import CONTROLS
from fitdata_adapters.arbox_sandbox.dataset import (
    FIRST_MEMBER_ID,
    PLANS,
    UNKNOWN_PLAN_NAME,
    DataSet,
    expected_counts,
    generate_dataset,
    malformed_email_index,
)
from fitdata_adapters.arbox_sandbox.engine import (
    ENDPOINTS,
    ArboxSandbox,
    CallRecord,
    Failure,
    SandboxConfig,
)
from fitdata_adapters.arbox_sandbox.server import SandboxThread, run_sandbox

__all__ = [
    "CONTROLS",
    "ENDPOINTS",
    "FIRST_MEMBER_ID",
    "PLANS",
    "UNKNOWN_PLAN_NAME",
    "ArboxSandbox",
    "CallRecord",
    "DataSet",
    "Failure",
    "SandboxConfig",
    "SandboxThread",
    "create_sandbox_app",
    "expected_counts",
    "generate_dataset",
    "malformed_email_index",
    "run_sandbox",
]
