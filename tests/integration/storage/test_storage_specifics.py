"""What only one storage adapter does: local signed links, S3 outages and presigning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from storage_backends import (
    ACCESS_KEY,
    SECRET_KEY,
    MotoS3,
    SettableClock,
    s3_storage,
    start_moto,
    stop_moto,
)

from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)

pytestmark = pytest.mark.integration


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def local_storage(root: Path, clock: SettableClock) -> LocalFolderStorage:
    return LocalFolderStorage(
        root, public_url="https://fit.example/api/", signing_key=b"s" * 32, clock=clock
    )


class TestLocalSignedLinks:
    async def test_link_shape_and_verification(self, tmp_path: Path) -> None:
        clock = SettableClock()
        storage = local_storage(tmp_path, clock)
        await storage.put_stream("exports/o/j.csv", one(b"data"), content_type="text/csv")
        url = await storage.signed_url(
            "exports/o/j.csv", expires_in=timedelta(hours=1), download_name="חברים 2025.csv"
        )
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            "https://fit.example/api/files/exports/o/j.csv"
        )
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["expires"] == str(int((clock.now() + timedelta(hours=1)).timestamp()))
        assert query["name"] == "חברים 2025.csv"
        key = unquote(parts.path.split("/files/", 1)[1])
        expires, sig, name = query["expires"], query["sig"], query["name"]

        assert storage.verify_download(key, expires, sig, clock.now(), download_name=name)
        # Still valid at the last second, refused after it.
        at_expiry = clock.now() + timedelta(hours=1)
        assert storage.verify_download(key, expires, sig, at_expiry, download_name=name)
        late = at_expiry + timedelta(seconds=1)
        assert not storage.verify_download(key, expires, sig, late, download_name=name)

    async def test_tampered_links_are_refused(self, tmp_path: Path) -> None:
        clock = SettableClock()
        storage = local_storage(tmp_path, clock)
        url = await storage.signed_url("a/b.csv", expires_in=timedelta(minutes=5))
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        expires, sig, now = query["expires"], query["sig"], clock.now()
        assert storage.verify_download("a/b.csv", expires, sig, now)

        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        assert not storage.verify_download("a/b.csv", expires, flipped, now)
        assert not storage.verify_download("a/c.csv", expires, sig, now)  # another object
        later = str(int(expires) + 3600)
        assert not storage.verify_download("a/b.csv", later, sig, now)  # extended expiry
        assert not storage.verify_download("a/b.csv", expires, sig, now, download_name="x.exe")
        assert not storage.verify_download("a/b.csv", "soon", sig, now)
        assert not storage.verify_download("a/b.csv", expires, "", now)
        assert not storage.verify_download("../etc/passwd", expires, sig, now)

        other = LocalFolderStorage(
            tmp_path, public_url="https://x", signing_key=b"t" * 32, clock=clock
        )
        assert not other.verify_download("a/b.csv", expires, sig, now)

    def test_repr_hides_the_signing_key(self, tmp_path: Path) -> None:
        storage = local_storage(tmp_path, SettableClock())
        assert "sss" not in repr(storage)

    def test_short_signing_key_is_a_configuration_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError):
            LocalFolderStorage(
                tmp_path, public_url="x", signing_key=b"short", clock=SettableClock()
            )

    async def test_unwritable_root_is_unavailable(self, tmp_path: Path) -> None:
        blocker = tmp_path / "not-a-dir"
        blocker.write_bytes(b"")
        storage = local_storage(blocker, SettableClock())
        with pytest.raises(StorageUnavailable):
            await storage.put_stream("k.csv", one(b"x"), content_type="text/csv")

    async def test_objects_live_at_their_key_path(self, tmp_path: Path) -> None:
        storage = local_storage(tmp_path, SettableClock())
        await storage.put_stream("exports/o/j.csv", one(b"bytes"), content_type="text/csv")
        assert storage.path_for("exports/o/j.csv") == tmp_path / "exports" / "o" / "j.csv"
        assert (tmp_path / "exports" / "o" / "j.csv").read_bytes() == b"bytes"
        assert list((tmp_path / ".staging").iterdir()) == []


class TestMemorySignedLinks:
    async def test_link_expires(self) -> None:
        clock = SettableClock()
        storage = MemoryStorage(clock=clock)
        await storage.put_stream("k.csv", one(b"data"), content_type="text/csv")
        url = await storage.signed_url("k.csv", expires_in=timedelta(hours=1))
        assert storage.fetch_signed(url) == b"data"
        assert storage.content_type("k.csv") == "text/csv"
        clock.advance(timedelta(hours=1, seconds=1))
        with pytest.raises(PermissionDenied):
            storage.fetch_signed(url)


class TestS3:
    async def test_presigned_link_sets_the_download_name(self, moto_s3: MotoS3) -> None:
        storage = s3_storage(moto_s3, moto_s3.new_bucket())
        await storage.put_stream("exports/o/j.csv", one(b"a,b\r\n"), content_type="text/csv")
        url = await storage.signed_url(
            "exports/o/j.csv", expires_in=timedelta(hours=1), download_name="חברים.csv"
        )
        assert "X-Amz-Expires=3600" in url
        assert SECRET_KEY not in url
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        assert response.status_code == 200
        assert response.content == b"a,b\r\n"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%D7%97%D7%91%D7%A8%D7%99%D7%9D.csv" in disposition

    async def test_content_type_is_stored(self, moto_s3: MotoS3) -> None:
        bucket = moto_s3.new_bucket()
        storage = s3_storage(moto_s3, bucket)
        await storage.put_stream("k.csv", one(b"x"), content_type="text/csv; charset=utf-8")
        head = moto_s3.client().head_object(Bucket=bucket, Key="k.csv")
        assert head["ContentType"] == "text/csv; charset=utf-8"

    async def test_presign_lifetime_is_bounded(self, moto_s3: MotoS3) -> None:
        storage = s3_storage(moto_s3, moto_s3.new_bucket())
        for too_long_or_short in (timedelta(days=8), timedelta(0)):
            with pytest.raises(InvalidInput):
                await storage.signed_url("k", expires_in=too_long_or_short)

    def test_tiny_parts_are_a_configuration_error(self, moto_s3: MotoS3) -> None:
        with pytest.raises(ConfigurationError):
            s3_storage(moto_s3, "b", part_size=1024)

    def test_repr_hides_credentials(self, moto_s3: MotoS3) -> None:
        text = repr(s3_storage(moto_s3, "b"))
        assert SECRET_KEY not in text
        assert ACCESS_KEY not in text

    async def test_missing_bucket_is_unavailable(self, moto_s3: MotoS3) -> None:
        storage = s3_storage(moto_s3, "no-such-bucket-fitdata")
        with pytest.raises(StorageUnavailable) as caught:
            await storage.put_stream("k", one(b"x"), content_type="text/plain")
        assert "NoSuchBucket" in caught.value.message

    async def test_server_stopped_is_unavailable_without_credentials(self) -> None:
        moto = start_moto()
        bucket = moto.new_bucket()
        storage = s3_storage(moto, bucket, connect_timeout=1.0, read_timeout=2.0, max_attempts=1)
        await storage.put_stream("k", one(b"x"), content_type="text/plain")
        stop_moto(moto)

        async def consume() -> None:
            async for _ in storage.read("k"):
                pass

        for action in (
            lambda: storage.put_stream("k", one(b"x"), content_type="text/plain"),
            lambda: storage.exists("k"),
            lambda: storage.delete("k"),
            consume,
        ):
            with pytest.raises(StorageUnavailable) as caught:
                await action()
            assert caught.value.code == "STORAGE_UNAVAILABLE"
            assert SECRET_KEY not in str(caught.value)
            assert ACCESS_KEY not in str(caught.value)

    async def test_read_of_missing_key_is_not_found(self, moto_s3: MotoS3) -> None:
        storage = s3_storage(moto_s3, moto_s3.new_bucket())
        with pytest.raises(NotFound):
            async for _ in storage.read("missing"):
                pass
