"""The app's OpenAPI document, built without any I/O: memory services, an unopened SQLite
engine and local storage (as in the embedded default, so the signed-download route is in it).
The live app serves the same document (the contract fuzzing test checks)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.clock import SystemClock
from fitdata_adapters.memory import MemoryJobQueue, memory_services
from fitdata_adapters.settings import Settings
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_http import create_app


def openapi_document() -> dict[str, Any]:
    """The document as ``/schema/openapi.json`` serves it (before JSON encoding)."""
    data_dir = Path(tempfile.gettempdir()) / "fitdata-openapi-document"
    settings = Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_JWT_SECRET": "openapi-document-secret-long-enough-for-hs256",
        }
    )
    storage = LocalFolderStorage(
        data_dir / "storage",
        public_url=settings.public_url,
        signing_key=b"k" * 32,
        clock=SystemClock(),
    )
    runtime = Runtime(
        settings=settings,
        services=memory_services(storage=storage),
        engine=create_async_engine("sqlite+aiosqlite://"),
        queue=MemoryJobQueue(),
    )
    return create_app(runtime).openapi_schema.to_schema()
