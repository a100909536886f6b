"""Object storage adapters: in memory, a local folder, and S3-compatible stores (S3, R2)."""

from fitdata_adapters.storage.keys import attachment_disposition, validate_key
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_adapters.storage.s3 import S3Storage

__all__ = [
    "LocalFolderStorage",
    "MemoryStorage",
    "S3Storage",
    "attachment_disposition",
    "validate_key",
]
