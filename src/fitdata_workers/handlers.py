"""The one place that imports every module registering job handlers.

Importing this module fills :data:`fitdata_workers.registry.registry`. Both runners (the
embedded worker inside ``fitdata serve`` and the Dramatiq worker processes) import it before
they start, so a handler exists in every process that may receive its job.

Feature code: put handlers in ``fitdata_workers/jobs/<feature>.py`` and add one import line
per module below (ruff wants ``# noqa: F401`` on each, since the import is for its effect), e.g.::

    import fitdata_workers.jobs.billing  # noqa: F401  (billing_renewals, billing_reconcile, ...)
    import fitdata_workers.jobs.exports  # noqa: F401  (export_members)
"""

from __future__ import annotations

# --- add handler module imports below (one line per feature module) -------------------------
import fitdata_workers.jobs.billing
import fitdata_workers.jobs.exports
import fitdata_workers.jobs.imports  # noqa: F401  (import_run, the import sweeps)
from fitdata_workers.registry import registry

__all__ = ["registry"]
