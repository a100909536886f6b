"""JSON encoding of the sandbox's answers (Hebrew kept as is, compact)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from litestar import Response
from litestar.response import Stream
from litestar.serialization import encode_json

#: Rows per encoded piece of a streamed array.
_CHUNK = 1000


def encode(body: object) -> bytes:
    """Compact UTF-8 JSON (Hebrew as is); a Decimal as its text. Litestar's encoder is
    several times faster than ``json``, which matters for a 100,000-row report."""
    return encode_json(body)


def json_response(
    status: int, body: object, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=encode(body), status_code=status, media_type="application/json", headers=headers
    )


def error_body(status: int, message: str) -> dict[str, Any]:
    """Arbox's error shape *(inferred)*: ``{"statusCode": N, "error": "..."}``."""
    return {"statusCode": status, "error": message}


def array_stream(rows: Sequence[Any]) -> Stream:
    """A bare JSON array, encoded piece by piece so a 100,000-row report never sits in memory
    as one string."""

    def pieces() -> Iterator[bytes]:
        yield b"["
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            piece = b",".join(encode(row) for row in chunk)
            yield piece if start == 0 else b"," + piece
        yield b"]"

    return Stream(pieces(), media_type="application/json", status_code=200)
