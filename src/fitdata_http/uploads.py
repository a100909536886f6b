"""A file upload read from the request stream as it arrives (``multipart/form-data``).

Litestar's own form parsing buffers the whole body before a handler runs; an upload route
that must refuse an over-sized file before it is all read parses the stream itself:
:func:`open_upload` reads until the file part's headers (so its name is known), and
:attr:`Upload.chunks` yields the file's bytes as they arrive, counting them, so the consumer
(the object store) holds one chunk at a time and a body past the cap stops there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from fitdata_core.errors import InvalidInput
from fitdata_core.usecases.imports.csv_files import file_too_large
from fitdata_http.bodies import BODY_FIELD

__all__ = ["MULTIPART_OVERHEAD_BYTES", "Upload", "open_upload"]

#: Room for the multipart framing and small fields around the file: a body bigger than the
#: cap plus this cannot hold a file within the cap.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
_MAX_FILENAME = 255


class Upload:
    """The file part of one streamed multipart request."""

    def __init__(self, request: Request[Any, Any, Any], field: str, limit: int | None) -> None:
        self._body = request.stream()
        self._field = field
        self._limit = limit
        self._read = 0
        self._pending: list[bytes] = []
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._file_done = False
        self._body_done = False
        self.filename: str | None = None
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise InvalidInput(
                f"Send the file as multipart/form-data, in the form field {field!r}.",
                field=field,
            )
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_part,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    # --- parser callbacks -----------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == self._field and self.filename is None and not self._file_done:
            raw = options.get(b"filename", b"").decode("utf-8", "replace")
            # Only the last path segment: some browsers send the client's full path.
            self.filename = raw.replace("\\", "/").rsplit("/", 1)[-1][:_MAX_FILENAME] or "upload"
            self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    # --- reading --------------------------------------------------------------------------

    async def _feed(self) -> bool:
        """Read one chunk of the body into the parser; False at its end."""
        try:
            chunk = await anext(self._body)
        except StopAsyncIteration:
            self._body_done = True
            return False
        self._read += len(chunk)
        if self._limit is not None and self._read > self._limit + MULTIPART_OVERHEAD_BYTES:
            raise file_too_large(self._limit)
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            # Framing no form encoder writes: the client's to fix, never a server error.
            raise InvalidInput(
                f"The multipart body is malformed ({exc}); send the file as multipart/form-data "
                f"in the form field {self._field!r}.",
                field=BODY_FIELD,
                code="MALFORMED_BODY",
            ) from exc
        return True

    async def _start(self) -> None:
        while self.filename is None and await self._feed():
            pass
        if self.filename is None:
            raise InvalidInput(
                f"No file in the request: send it as the multipart form field {self._field!r}.",
                field=self._field,
            )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive (the size cap is the consumer's to count)."""
        while True:
            if self._pending:
                pending, self._pending = self._pending, []
                for piece in pending:
                    if piece:
                        yield piece
            if self._file_done or self._body_done:
                if not self._file_done:
                    raise InvalidInput(
                        "The upload ended before the file did; send it again.", field=self._field
                    )
                return
            await self._feed()


async def open_upload(
    request: Request[Any, Any, Any], *, field: str = "file", limit: int | None
) -> Upload:
    """Start reading the multipart upload of ``request``: 400 when it is not multipart, has no
    ``field`` part, or (by its ``Content-Length`` or its bytes so far) is over ``limit``."""
    declared = request.headers.get("content-length")
    too_long = declared is not None and declared.isdigit() and int(declared) > (limit or 0)
    if limit is not None and too_long and int(declared or 0) > limit + MULTIPART_OVERHEAD_BYTES:
        raise file_too_large(limit)
    upload = Upload(request, field, limit)
    await upload._start()
    return upload
