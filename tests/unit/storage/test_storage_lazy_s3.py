"""A process without S3 does not pay for the S3 stack: the local and memory storages, and the
storage package itself, import without aioboto3, botocore or aiohttp; S3Storage still loads
on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

S3_STACK = ("aioboto3", "aiobotocore", "boto3", "botocore", "aiohttp")


def _loaded_after(statement: str) -> list[str]:
    """The S3-stack modules in ``sys.modules`` of a fresh interpreter after ``statement``."""
    probe = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps([m for m in {S3_STACK!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import fitdata_adapters.storage.local",
        "from fitdata_adapters.storage import LocalFolderStorage, MemoryStorage",
        "import fitdata_adapters.storage.memory",
    ],
)
def test_local_storage_does_not_import_the_s3_stack(statement: str) -> None:
    assert _loaded_after(statement) == []


def test_s3_storage_is_still_importable_from_the_package() -> None:
    loaded = _loaded_after(
        "from fitdata_adapters.storage import S3Storage\n"
        "assert S3Storage.__module__ == 'fitdata_adapters.storage.s3'"
    )
    assert "aioboto3" in loaded  # the probe itself works: the lazy import did load the stack


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import fitdata_adapters.storage as storage

    with pytest.raises(AttributeError, match="NoSuchStorage"):
        _ = storage.NoSuchStorage  # type: ignore[attr-defined]
