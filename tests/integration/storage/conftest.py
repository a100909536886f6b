"""Fixtures for the object-storage contract suite: memory, local folder, and S3 on moto."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from storage_backends import Backend, MotoS3, SettableClock, s3_storage, start_moto, stop_moto

from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    moto = start_moto()
    yield moto
    stop_moto(moto)


@pytest.fixture(params=["memory", "local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    clock = SettableClock()
    if request.param == "memory":
        yield Backend("memory", MemoryStorage(clock=clock), clock)
    elif request.param == "local":
        root = tmp_path / "objects"
        storage = LocalFolderStorage(
            root,
            public_url="http://files.example/",
            signing_key=b"k" * 32,
            clock=clock,
        )
        yield Backend("local", storage, clock, root=root)
    else:
        moto: MotoS3 = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket()
        yield Backend("s3", s3_storage(moto, bucket), clock, moto=moto, bucket=bucket)
