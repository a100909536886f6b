"""Object storage on S3 or any S3-compatible store (Cloudflare R2, MinIO), through aioboto3.

Uploads stream: the object is sent as a multipart upload, one fixed-size part at a time, so a
large export never sits in memory whole. Any failure part-way aborts the multipart upload,
leaving neither an object nor stored parts behind. (A bucket lifecycle rule that expires
incomplete multipart uploads is still a good backstop for processes that die mid-upload.)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import aioboto3
import aiohttp
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fitdata_adapters.storage.keys import attachment_disposition, validate_key
from fitdata_core.errors import ConfigurationError, InvalidInput, NotFound, StorageUnavailable
from fitdata_core.ports.infrastructure import StoredObject

__all__ = ["MAX_PRESIGN", "MIN_PART_SIZE", "S3Storage"]

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest allowed part (every part but the last)."""

MAX_PRESIGN = timedelta(days=7)
"""The longest a SigV4 presigned URL may live."""

_READ_CHUNK = 64 * 1024
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})

logger = logging.getLogger(__name__)


class S3Storage:
    """An :class:`~fitdata_core.ports.infrastructure.ObjectStorage` in one S3 bucket.

    A client is opened per operation: clients are bound to an event loop, and workers may run
    each job in a fresh one. A reader that stops before the end of :meth:`read` should close
    it (``contextlib.aclosing``) so the connection is released at once.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = 8 * 1024 * 1024,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        """Without keys, the usual AWS credential chain (environment, profile, role) applies.

        ``part_size`` must be at least 5 MiB; every part but the last has exactly this size
        (R2 requires equal parts).
        """
        if part_size < MIN_PART_SIZE:
            raise ConfigurationError(f"S3 part_size must be at least {MIN_PART_SIZE} bytes")
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._part_size = part_size
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            signature_version="s3v4",
            # A custom endpoint (R2, MinIO, a test server) rarely resolves bucket subdomains.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # S3-compatible stores do not all accept the newer default checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self._bucket!r}, endpoint_url={self._endpoint_url!r})"

    @property
    def bucket(self) -> str:
        return self._bucket

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        validate_key(key)
        target = {"Bucket": self._bucket, "Key": key}
        part_size = self._part_size
        async with self._client() as s3:
            buffer = bytearray()
            size = 0
            upload_id: str | None = None
            parts: list[dict[str, Any]] = []
            try:
                async for chunk in chunks:
                    buffer += chunk
                    size += len(chunk)
                    while len(buffer) >= part_size:
                        if upload_id is None:
                            with _translated("start upload of", key):
                                started = await s3.create_multipart_upload(
                                    **target, ContentType=content_type
                                )
                            upload_id = str(started["UploadId"])
                        part = bytes(buffer[:part_size])
                        del buffer[:part_size]
                        parts.append(await self._upload_part(s3, key, upload_id, parts, part))
                if upload_id is None:
                    # Small enough for one request: no multipart bookkeeping needed.
                    with _translated("write", key):
                        await s3.put_object(**target, Body=bytes(buffer), ContentType=content_type)
                else:
                    if buffer:
                        parts.append(
                            await self._upload_part(s3, key, upload_id, parts, bytes(buffer))
                        )
                    with _translated("complete upload of", key):
                        await s3.complete_multipart_upload(
                            **target, UploadId=upload_id, MultipartUpload={"Parts": parts}
                        )
            except BaseException:
                if upload_id is not None:
                    await self._abort(s3, key, upload_id)
                raise
        return StoredObject(key=key, size=size)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        validate_key(key)
        async with self._client() as s3:
            with _translated("read", key):
                response = await s3.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            try:
                while True:
                    with _translated("read", key):
                        chunk = await body.read(_READ_CHUNK)
                    if not chunk:
                        return
                    yield chunk
            finally:
                body.close()

    async def exists(self, key: str) -> bool:
        validate_key(key)
        async with self._client() as s3:
            try:
                with _translated("check", key):
                    await s3.head_object(Bucket=self._bucket, Key=key)
            except NotFound:
                return False
        return True

    async def delete(self, key: str) -> None:
        validate_key(key)
        async with self._client() as s3:
            with _translated("delete", key):
                await s3.delete_object(Bucket=self._bucket, Key=key)

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        """A presigned GET; with ``download_name`` the response downloads as that file name."""
        validate_key(key)
        if not timedelta(seconds=1) <= expires_in <= MAX_PRESIGN:
            raise InvalidInput("A signed URL must expire within 1 second to 7 days")
        params = {"Bucket": self._bucket, "Key": key}
        if download_name is not None:
            params["ResponseContentDisposition"] = attachment_disposition(download_name)
        async with self._client() as s3:
            with _translated("sign a link to", key):
                url = await s3.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=int(expires_in.total_seconds())
                )
        return str(url)

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        """Abort the bucket's multipart uploads initiated before ``older_than`` (a process
        killed mid-upload leaves its stored parts behind, billed but invisible)."""
        removed = 0
        async with self._client() as s3:
            paginator = s3.get_paginator("list_multipart_uploads")
            with _translated("list the unfinished uploads of", self._bucket):
                pages = [page async for page in paginator.paginate(Bucket=self._bucket)]
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] >= older_than:
                        continue
                    with _translated("abort the unfinished upload of", upload["Key"]):
                        await s3.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    removed += 1
        return removed

    def _client(self) -> Any:
        return self._session.client("s3", endpoint_url=self._endpoint_url, config=self._config)

    async def _upload_part(
        self, s3: Any, key: str, upload_id: str, parts: list[dict[str, Any]], body: bytes
    ) -> dict[str, Any]:
        number = len(parts) + 1
        with _translated(f"upload part {number} of", key):
            uploaded = await s3.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
        return {"ETag": uploaded["ETag"], "PartNumber": number}

    async def _abort(self, s3: Any, key: str, upload_id: str) -> None:
        try:
            await s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError, aiohttp.ClientError, OSError) as exc:
            # The original failure matters more; the bucket's lifecycle rule is the backstop.
            logger.warning("could not abort multipart upload of %r: %s", key, _describe(exc))


@contextlib.contextmanager
def _translated(action: str, key: str) -> Iterator[None]:
    """Turn S3 and connection failures into core errors, naming no credentials."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise NotFound(f"No stored object {key!r}") from exc
        raise StorageUnavailable(f"S3 could not {action} {key!r}: {_describe(exc)}") from exc
    except (BotoCoreError, aiohttp.ClientError, OSError) as exc:
        raise StorageUnavailable(f"S3 could not {action} {key!r}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    # Error codes and class names only: botocore messages can echo request details.
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code', 'error')} (HTTP {status})"
    return type(exc).__name__
