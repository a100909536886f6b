"""Helpers for the object-storage suites: a settable clock, a moto S3 server, backends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import httpx
from moto.server import ThreadedMotoServer

from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_adapters.storage.s3 import MIN_PART_SIZE, S3Storage
from fitdata_core.ports.infrastructure import ObjectStorage

ACCESS_KEY = "AKIAFITDATATEST00001"
SECRET_KEY = "fitdata-test-secret-key-never-shown-0001"
REGION = "us-east-1"


@dataclass
class SettableClock:
    current: datetime = field(default_factory=lambda: datetime(2025, 1, 1, 12, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class MotoS3:
    endpoint_url: str
    server: ThreadedMotoServer

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"fitdata-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


def start_moto() -> MotoS3:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return MotoS3(endpoint_url=f"http://{host}:{port}", server=server)


def stop_moto(moto: MotoS3) -> None:
    moto.server.stop()
    # stop() ends the serve loop but leaves the socket listening; close it so that
    # connections are refused as they would be by a dead server.
    moto.server._server.server_close()


def s3_storage(moto: MotoS3, bucket: str, **overrides: Any) -> S3Storage:
    options: dict[str, Any] = {
        "bucket": bucket,
        "endpoint_url": moto.endpoint_url,
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "part_size": MIN_PART_SIZE,
    }
    options.update(overrides)
    return S3Storage(**options)


@dataclass
class Backend:
    """One storage under test plus what the contract needs to look behind it."""

    name: str
    storage: ObjectStorage
    clock: SettableClock
    root: Path | None = None
    moto: MotoS3 | None = None
    bucket: str | None = None

    async def download(self, url: str) -> tuple[bytes, str | None]:
        """Follow a signed URL as its recipient would: the bytes and the download name."""
        if isinstance(self.storage, MemoryStorage):
            name = parse_qs(urlsplit(url).query).get("name", [None])[0]
            return self.storage.fetch_signed(url), name
        if isinstance(self.storage, LocalFolderStorage):
            # What the HTTP app does with /files/{key}?expires=..&sig=..&name=..
            parts = urlsplit(url)
            key = unquote(parts.path.split("/files/", 1)[1])
            query = parse_qs(parts.query)
            name = query.get("name", [None])[0]
            assert self.storage.verify_download(
                key,
                query["expires"][0],
                query["sig"][0],
                self.clock.now(),
                download_name=name,
            )
            data = b"".join([chunk async for chunk in self.storage.read(key)])
            return data, name
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        assert response.status_code == 200, response.text
        return response.content, response.headers.get("content-disposition")

    def dangling_uploads(self) -> list[Any]:
        """Multipart uploads (S3) or staged partial files (local) left behind."""
        if self.moto is not None:
            listing = self.moto.client().list_multipart_uploads(Bucket=self.bucket)
            return list(listing.get("Uploads", []))
        if self.root is not None and (self.root / ".staging").exists():
            return list((self.root / ".staging").iterdir())
        return []

    def abandon_upload(self, key: str) -> None:
        """What a writer killed mid-object leaves: an unfinished multipart upload with one
        part (S3) or a partial file in the staging folder (local). Memory keeps nothing."""
        if self.moto is not None:
            client = self.moto.client()
            started = client.create_multipart_upload(Bucket=self.bucket, Key=key)
            client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=started["UploadId"],
                PartNumber=1,
                Body=b"half an export",
            )
        elif self.root is not None:
            staging = self.root / ".staging"
            staging.mkdir(parents=True, exist_ok=True)
            (staging / f"{secrets.token_hex(12)}.part").write_bytes(b"half an export")

    def multipart_etag_parts(self, key: str) -> int | None:
        """How many parts S3 assembled the object from (None when not multipart / not S3)."""
        if self.moto is None:
            return None
        etag = self.moto.client().head_object(Bucket=self.bucket, Key=key)["ETag"].strip('"')
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1
