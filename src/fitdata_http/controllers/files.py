"""``GET /files/{key}``: downloads from the local-folder storage through signed links.

Only mounted when the storage is :class:`~fitdata_adapters.storage.local.LocalFolderStorage`
(the embedded default); S3 and R2 serve their own presigned URLs. The link carries
``expires`` (unix seconds), ``sig`` (HMAC) and optionally ``name`` (the download file name,
covered by the signature). No bearer token: the signature is the permission.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.enums import MediaType
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from fitdata_adapters.storage.keys import attachment_disposition
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_core.errors import PermissionDenied
from fitdata_http.context import runtime_of
from fitdata_http.contract import answers
from fitdata_http.errors import PROBLEM_JSON
from fitdata_http.pages import Page, prefers_html

__all__ = ["FilesController"]

_LINK_REFUSED = "This download link is invalid or has expired."


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


class FilesController(Controller):
    path = "/files"
    tags = ["files"]  # noqa: RUF012 - Litestar reads these as class attributes

    @get(
        "/{key:path}",
        summary="Download a stored file through a signed link",
        # A bad or expired link: problem details, or a short page for a browser.
        # The file itself: its media type follows its name.
        opt=answers(errors=(403,), error_media=(PROBLEM_JSON, MediaType.HTML.value), media="*/*"),
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        key: FromPath[str],
        expires: Annotated[
            str, QueryParameter(description="Expiry, unix seconds (from the link).")
        ],
        sig: Annotated[str, QueryParameter(description="Signature (from the link).")],
        name: Annotated[str | None, QueryParameter(description="Download file name.")] = None,
    ) -> Stream | Response[str]:
        services = runtime_of(request).services
        storage = services.storage
        key = key.lstrip("/")
        if not isinstance(storage, LocalFolderStorage) or not storage.verify_download(
            key, expires, sig, services.clock.now(), download_name=name
        ):
            if prefers_html(request.headers.get("accept")):
                # Someone clicked the link in their email: tell them what to do next.
                return Page(
                    state="expired",
                    title="This link has expired",
                    message=(
                        f"{_LINK_REFUSED} Download links last one hour: open the export "
                        "again in fitdata to get a fresh link."
                    ),
                    status_code=403,
                ).response()
            raise PermissionDenied(_LINK_REFUSED)
        chunks = storage.read(key)
        # Read the first chunk before answering, so a missing object is a 404 problem rather
        # than a stream that breaks after the headers went out.
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        media_type = mimetypes.guess_type(name or key)[0] or "application/octet-stream"
        filename = name or key.rsplit("/", 1)[-1]
        return Stream(
            _prepend(first, chunks),
            media_type=media_type,
            headers={
                "Content-Disposition": attachment_disposition(filename),
                "Cache-Control": "private, no-store",
            },
        )
