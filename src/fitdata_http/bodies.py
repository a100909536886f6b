"""Reading JSON request bodies: one strict decoder, and the request class that uses it.

Whatever a client sends, a body that cannot be read is a ``400`` naming ``body``, never a
``500``: invalid UTF-8 (``MALFORMED_BODY``), text that is not JSON (``MALFORMED_JSON``) and
JSON nested deeper than :data:`MAX_JSON_DEPTH` levels (``BODY_TOO_DEEP``; no fitdata body
needs more than a few, and deep nesting is how parsers are made to exhaust their stack).

JSON numbers with a fraction or an exponent are decoded as :class:`~decimal.Decimal` at the
exact value written, never through a binary float: ``19.9`` stays ``19.9`` and ``1e-400`` stays
``1E-400`` (so a price rule can refuse it rather than see a rounded ``0.0``).

Bodies are only read after authentication: :class:`FitdataRequest` decodes when Litestar
gathers the handler's arguments, which happens after the guards, and the app-wide guard
:func:`~fitdata_http.auth.authenticate_declared_actor` authenticates every route that needs a
caller. So an anonymous request to an API route is a ``401`` whatever its body holds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from litestar import Request

from fitdata_core.errors import InvalidInput

__all__ = [
    "BODY_FIELD",
    "MAX_JSON_DEPTH",
    "FitdataRequest",
    "decode_json_body",
    "decode_text_body",
]

BODY_FIELD = "body"
MAX_JSON_DEPTH = 32

_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _deeper_than(container: dict[Any, Any] | list[Any], limit: int) -> bool:
    """Whether arrays and objects in ``container`` nest more than ``limit`` levels (without
    recursion, so the check itself cannot run out of stack)."""
    pending: list[tuple[dict[Any, Any] | list[Any], int]] = [(container, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"The request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep.",
        field=BODY_FIELD,
        code="BODY_TOO_DEEP",
    )


def _not_utf8(exc: UnicodeDecodeError) -> InvalidInput:
    return InvalidInput(
        f"The request body is not valid UTF-8 (byte {exc.start}).",
        field=BODY_FIELD,
        code="MALFORMED_BODY",
    )


def decode_text_body(raw: bytes) -> str:
    """``raw`` as UTF-8 text; :class:`InvalidInput` (400, ``MALFORMED_BODY``) if it is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from None


def decode_json_body(raw: bytes) -> Any:
    """The JSON value in ``raw``; :class:`InvalidInput` (400, ``field: "body"``) if unreadable."""
    try:
        value = _DECODER.decode(raw)
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from None
    except RecursionError:
        raise _too_deep() from None
    except msgspec.DecodeError:
        raise InvalidInput(
            "The request body is not valid JSON.", field=BODY_FIELD, code="MALFORMED_JSON"
        ) from None
    if isinstance(value, dict | list) and _deeper_than(value, MAX_JSON_DEPTH):
        raise _too_deep()
    return value


class FitdataRequest(Request[Any, Any, Any]):
    """Litestar's request, with JSON bodies read by :func:`decode_json_body`.

    Litestar calls :meth:`json` to fill a handler's ``data`` argument; an empty body is
    ``null``, as in Litestar, so a handler with an optional body gets ``None``.
    """

    _fitdata_json: Any = msgspec.UNSET

    async def json(self) -> Any:
        if self._fitdata_json is msgspec.UNSET:
            self._fitdata_json = decode_json_body(await self.body() or b"null")
        return self._fitdata_json
