"""The ObjectStorage contract, run against memory, a local folder and S3 (moto server)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta

import pytest
from storage_backends import Backend

from fitdata_core.errors import InvalidInput, NotFound

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


class SourceBroke(Exception):
    """The producer of an upload failed (e.g. the database went away mid-export)."""


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def breaking_stream(chunk: bytes, times: int) -> AsyncIterator[bytes]:
    for _ in range(times):
        yield chunk
    raise SourceBroke("the export query failed")


async def read_all(backend: Backend, key: str) -> bytes:
    return b"".join([chunk async for chunk in backend.storage.read(key)])


async def test_round_trip(backend: Backend) -> None:
    key = "exports/org-1/job-1.csv"
    data = "\ufeffname\r\nדנה\r\n".encode()
    stored = await backend.storage.put_stream(
        key, stream([data[:5], data[5:]]), content_type="text/csv"
    )
    assert stored.key == key
    assert stored.size == len(data)
    assert await backend.storage.exists(key)
    assert await read_all(backend, key) == data


async def test_empty_object(backend: Backend) -> None:
    stored = await backend.storage.put_stream("empty.csv", stream([]), content_type="text/csv")
    assert stored.size == 0
    assert await backend.storage.exists("empty.csv")
    assert await read_all(backend, "empty.csv") == b""


async def test_overwrite_replaces_the_object(backend: Backend) -> None:
    await backend.storage.put_stream("k", stream([b"first"]), content_type="text/plain")
    await backend.storage.put_stream("k", stream([b"second"]), content_type="text/plain")
    assert await read_all(backend, "k") == b"second"


async def test_multi_part_stream(backend: Backend) -> None:
    """Bigger than two S3 parts (5 MiB each), fed in small chunks."""
    payload = os.urandom(11 * MiB + 12345)
    chunk = 256 * 1024
    stored = await backend.storage.put_stream(
        "big/object.bin",
        stream(payload[i : i + chunk] for i in range(0, len(payload), chunk)),
        content_type="application/octet-stream",
    )
    assert stored.size == len(payload)
    chunks = [c async for c in backend.storage.read("big/object.bin")]
    assert len(chunks) > 1  # read streams too
    assert b"".join(chunks) == payload
    assert backend.multipart_etag_parts("big/object.bin") in (None, 3)
    assert backend.dangling_uploads() == []


async def test_failure_mid_stream_leaves_nothing(backend: Backend) -> None:
    # 6 MiB arrives (more than one S3 part) before the source fails.
    with pytest.raises(SourceBroke):
        await backend.storage.put_stream(
            "exports/org-1/broken.csv",
            breaking_stream(b"x" * MiB, times=6),
            content_type="text/csv",
        )
    assert not await backend.storage.exists("exports/org-1/broken.csv")
    with pytest.raises(NotFound):
        await read_all(backend, "exports/org-1/broken.csv")
    assert backend.dangling_uploads() == []


async def test_failed_overwrite_keeps_the_previous_object(backend: Backend) -> None:
    await backend.storage.put_stream("keep.csv", stream([b"good"]), content_type="text/csv")
    with pytest.raises(SourceBroke):
        await backend.storage.put_stream(
            "keep.csv", breaking_stream(b"y" * MiB, times=6), content_type="text/csv"
        )
    assert await read_all(backend, "keep.csv") == b"good"


async def test_missing_object(backend: Backend) -> None:
    assert not await backend.storage.exists("nope/missing.csv")
    with pytest.raises(NotFound):
        await read_all(backend, "nope/missing.csv")


async def test_delete_is_idempotent(backend: Backend) -> None:
    await backend.storage.put_stream("gone.csv", stream([b"data"]), content_type="text/csv")
    await backend.storage.delete("gone.csv")
    assert not await backend.storage.exists("gone.csv")
    await backend.storage.delete("gone.csv")
    assert not await backend.storage.exists("gone.csv")


async def test_signed_url_downloads_the_bytes(backend: Backend) -> None:
    data = "שם,email\r\nדנה,dana@example.com\r\n".encode()
    await backend.storage.put_stream("exports/o/j.csv", stream([data]), content_type="text/csv")
    url = await backend.storage.signed_url(
        "exports/o/j.csv", expires_in=timedelta(hours=1), download_name="members-2025.csv"
    )
    downloaded, name = await backend.download(url)
    assert downloaded == data
    assert name is not None
    assert "members-2025.csv" in name


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "a/../../b",
        "/absolute",
        "a//b",
        "a/./b",
        ".hidden",
        "dir/.staging",
        "back\\slash",
        "nul\x00byte",
        "new\nline",
        "",
        "a/",
        "x" * 1025,
    ],
)
async def test_unsafe_keys_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidInput):
        await backend.storage.put_stream(key, stream([b"x"]), content_type="text/plain")
    with pytest.raises(InvalidInput):
        await backend.storage.exists(key)
    with pytest.raises(InvalidInput):
        await read_all(backend, key)
    with pytest.raises(InvalidInput):
        await backend.storage.delete(key)
    with pytest.raises(InvalidInput):
        await backend.storage.signed_url(key, expires_in=timedelta(minutes=5))


async def test_a_reader_may_stop_early(backend: Backend) -> None:
    """Abandoning a read part-way (closing the stream) releases the connection or file."""
    payload = os.urandom(300 * 1024)
    await backend.storage.put_stream("partial-read.bin", stream([payload]), content_type="x/y")
    async with contextlib.aclosing(backend.storage.read("partial-read.bin")) as reader:
        async for first in reader:
            assert payload.startswith(first)
            break
    assert await read_all(backend, "partial-read.bin") == payload


async def test_abandoned_uploads_are_removed_once_older_than_the_cutoff(backend: Backend) -> None:
    """A writer killed mid-object (no clean-up ran) leaves something behind; it stays while it
    may still be a live writer's (younger than the cutoff) and goes once it is older."""
    await backend.storage.put_stream("kept.csv", stream([b"whole"]), content_type="text/csv")
    backend.abandon_upload("exports/org-1/killed.csv")
    left = len(backend.dangling_uploads())
    assert left == (0 if backend.name == "memory" else 1)
    # (Both stores date what was left by the real time it was written.)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    if backend.name != "s3":
        # moto dates every multipart upload 2010-11-10, so only real stores can show that a
        # young upload stays; S3 compares the same ``Initiated`` time its listing returns.
        assert await backend.storage.remove_abandoned_uploads(older_than=an_hour_ago) == 0
        assert len(backend.dangling_uploads()) == left

    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert await backend.storage.remove_abandoned_uploads(older_than=soon) == left
    assert backend.dangling_uploads() == []
    assert await read_all(backend, "kept.csv") == b"whole"  # finished objects are never touched
    assert not await backend.storage.exists("exports/org-1/killed.csv")
