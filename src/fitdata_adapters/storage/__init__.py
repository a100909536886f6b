"""Object storage adapters: in memory, a local folder, and S3-compatible stores (S3, R2).

``S3Storage`` is loaded on first use: importing this package (or ``storage.local``, which the
HTTP app always needs) must not pull in aioboto3, botocore and aiohttp, which take seconds to
import and which a process without S3 never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fitdata_adapters.storage.keys import attachment_disposition, validate_key
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from fitdata_adapters.storage.s3 import S3Storage

__all__ = [
    "LocalFolderStorage",
    "MemoryStorage",
    "S3Storage",
    "attachment_disposition",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    # PEP 562: only the S3 adapter is lazy; anything else is a genuine AttributeError.
    if name == "S3Storage":
        from fitdata_adapters.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
