"""The responses of the OpenAPI document: success envelopes and problem details per route.

Litestar documents what a handler's signature says (its parameters, its body, one success
status). What it cannot see, this module adds, once, when the app is built:

* the success body as it really is: ``{"data": X}``, ``{"data": [X]}`` or, for pages,
  ``{"data": [X], "meta": Meta}``, where ``X`` is the view class a route names in its
  ``opt`` (``opt=answers(MemberView, paged=True)``), described by the converter's rules
  (:func:`fitdata_http.schemas.response_schema_of`);
* every error status the route can answer, as ``application/problem+json`` with the
  ``Problem`` schema, derived from what the route is: any input (400), a caller (401, 403),
  an id in the path or an organization (404), a change (409), a body (413), rate limited
  (429), an ``Idempotency-Key`` (409, 422), and the database behind every route but the
  liveness probe (503). A route adds statuses of its own with ``answers(..., errors=...)``.

New routes get the same treatment by themselves, so the contract fuzzing (schemathesis,
``tests/integration/http/test_http_contract_fuzz.py``) always checks every route.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute

from fitdata_http.auth import needs_actor
from fitdata_http.errors import PROBLEM_JSON
from fitdata_http.schemas import response_schema_of

__all__ = ["PROBLEM_SCHEMA", "answers", "complete_document", "download_errors"]

PROBLEM_SCHEMA = "Problem"
_OPT_DATA = "fitdata_data"
_OPT_SHAPE = "fitdata_shape"
_OPT_ERRORS = "fitdata_errors"
_OPT_RATE_LIMITED = "fitdata_rate_limited"
_OPT_ERROR_MEDIA = "fitdata_error_media"
_OPT_MEDIA = "fitdata_media"

_PHRASES = {
    400: "Bad input: a parameter, header or body the route does not accept (`field` names it)",
    401: "No valid bearer token (`WWW-Authenticate: Bearer`)",
    403: "The caller may not do this here (role, other organization, tier)",
    404: "The organization or object does not exist",
    409: "The request contradicts the current state (or its Idempotency-Key is in use)",
    410: "Deleted for good (a retention period ended); the detail says when and what to do",
    413: "The body is too large",
    422: "The Idempotency-Key was already used for a different request",
    429: "Rate limited (`Retry-After`)",
    503: "A dependency is down (`Retry-After`)",
}


def answers(
    data: Any = None,
    *,
    shape: str = "one",
    errors: Iterable[int] = (),
    rate_limited: bool = False,
    error_media: Iterable[str] = (PROBLEM_JSON,),
    media: str | None = None,
) -> dict[str, Any]:
    """A handler's ``opt``: its payload type ``data`` (``shape`` ``"one"``, ``"list"``,
    ``"page"``, or ``"bare"`` for a body that is ``data`` itself, without the envelope), error
    statuses beyond the derived ones, whether it is rate limited, and the media types of its
    errors (problem details unless the route answers browsers too).

    ``media`` is the success body's media type when it is not JSON (an HTML page, a file:
    ``"*/*"`` when it depends on the file), described as text or bytes."""
    return {
        _OPT_DATA: data,
        _OPT_SHAPE: shape,
        _OPT_ERRORS: tuple(errors),
        _OPT_RATE_LIMITED: rate_limited,
        _OPT_ERROR_MEDIA: tuple(error_media),
        _OPT_MEDIA: media,
    }


def download_errors(*statuses: int) -> dict[str, Any]:
    """The ``opt`` of a route that answers a file, not a JSON envelope (its media type is the
    handler's own): only its error statuses beyond the derived ones."""
    return {_OPT_ERRORS: tuple(statuses)}


def _problem_schema() -> Schema:
    text = Schema(type=OpenAPIType.STRING)
    return Schema(
        type=OpenAPIType.OBJECT,
        description="An RFC 9457 problem; `code` is stable and machine-readable.",
        required=["type", "title", "status", "detail", "code"],
        properties={
            "type": text,
            "title": text,
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": text,
            "code": text,
            "field": text,
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                items=Schema(
                    type=OpenAPIType.OBJECT,
                    required=["field", "message"],
                    properties={"field": text, "message": text},
                ),
            ),
            "requestId": text,
        },
    )


def _or_null(schema: Schema) -> Schema:
    return Schema(one_of=[schema, Schema(type=OpenAPIType.NULL)])


# ``total`` and ``offset`` are null on a page asked for by cursor (keyset pages count
# nothing); ``nextCursor`` is null on the last page.
_META = Schema(
    type=OpenAPIType.OBJECT,
    required=["total", "limit", "offset", "nextCursor"],
    properties={
        "total": _or_null(Schema(type=OpenAPIType.INTEGER, minimum=0)),
        "limit": Schema(type=OpenAPIType.INTEGER, minimum=1),
        "offset": _or_null(Schema(type=OpenAPIType.INTEGER, minimum=0)),
        "nextCursor": _or_null(
            Schema(
                type=OpenAPIType.STRING,
                description="Pass as ?cursor= to get the next page (keyset paging).",
            )
        ),
    },
)


def _envelope(data: Any, shape: str) -> Schema:
    item = response_schema_of(data) if data is not None else Schema()
    if shape == "bare":
        return item
    if shape == "one":
        return Schema(type=OpenAPIType.OBJECT, required=["data"], properties={"data": item})
    listed = Schema(type=OpenAPIType.ARRAY, items=item)
    if shape == "list":
        return Schema(type=OpenAPIType.OBJECT, required=["data"], properties={"data": listed})
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["data", "meta"],
        properties={"data": listed, "meta": _META},
    )


def _error_statuses(handler: HTTPRouteHandler, path: str, operation: Operation) -> set[int]:
    opt = handler.opt or {}
    params = handler.parsed_fn_signature.parameters
    statuses: set[int] = set(opt.get(_OPT_ERRORS, ()))
    has_body = "data" in params or operation.request_body is not None
    if operation.parameters or has_body:
        statuses.add(400)
    secured = needs_actor(handler) or bool(handler.guards)
    if secured:
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if secured and set(handler.http_methods) & {"POST", "PATCH", "PUT", "DELETE"}:
        statuses.add(409)
    if has_body:
        statuses.add(413)
    if opt.get(_OPT_RATE_LIMITED):
        statuses.add(429)
    if "idempotency" in params:
        statuses |= {409, 422}
    if path != "/healthz":
        statuses.add(503)
    return statuses


def _tidy_optional_body(operation: Operation) -> None:
    """An optional JSON body (``dict[str, Any] | None`` with :func:`~fitdata_http.schemas.
    json_body`) is documented by Litestar as "any object, or null" beside the real properties;
    keep the properties: an object of that shape, or null (no body)."""
    body = operation.request_body
    media = body.content.get("application/json") if isinstance(body, RequestBody) else None
    schema = media.schema if media is not None else None
    if not isinstance(schema, Schema) or not schema.properties or not schema.one_of:
        return
    kinds = {o.type for o in schema.one_of if isinstance(o, Schema)}
    if kinds == {OpenAPIType.OBJECT, OpenAPIType.NULL}:
        schema.one_of = None
        schema.type = [OpenAPIType.OBJECT, OpenAPIType.NULL]


def _complete_operation(handler: HTTPRouteHandler, path: str, operation: Operation) -> None:
    _tidy_optional_body(operation)
    opt = handler.opt or {}
    responses = operation.responses if operation.responses is not None else {}
    problem = Reference(ref=f"#/components/schemas/{PROBLEM_SCHEMA}")
    if _OPT_DATA in opt:
        success = str(handler.status_code)
        media = opt.get(_OPT_MEDIA)
        body = (
            OpenAPIMediaType(schema=_envelope(opt[_OPT_DATA], opt[_OPT_SHAPE]))
            if media is None
            else OpenAPIMediaType(schema=_raw_body(media))
        )
        responses[success] = OpenAPIResponse(
            description=_describe(responses.get(success)),
            content={media or "application/json": body},
        )
    media_types = opt.get(_OPT_ERROR_MEDIA, (PROBLEM_JSON,))
    for status in sorted(_error_statuses(handler, path, operation)):
        responses[str(status)] = OpenAPIResponse(
            description=_PHRASES.get(status, "Error"),
            content={
                media: OpenAPIMediaType(
                    schema=problem if media == PROBLEM_JSON else Schema(type=OpenAPIType.STRING)
                )
                for media in media_types
            },
        )
    operation.responses = responses


def _raw_body(media: str) -> Schema:
    """A success body that is not JSON: text for text types, bytes otherwise."""
    if media.startswith("text/"):
        return Schema(type=OpenAPIType.STRING)
    return Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]


def _describe(existing: Any) -> str:
    description = getattr(existing, "description", None)
    return str(description) if description else "Success"


def complete_document(app: Litestar) -> OpenAPI:
    """Add the success envelopes and problem responses to ``app``'s OpenAPI document (in
    place: the document the app serves); returns it."""
    document = app.openapi_schema
    components = document.components or Components()
    schemas = dict(components.schemas or {})
    schemas[PROBLEM_SCHEMA] = _problem_schema()
    components.schemas = schemas
    document.components = components
    paths = document.paths or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path_item = paths.get(_openapi_path(route.path_format))
        if path_item is None:
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                if isinstance(operation, Operation):
                    _complete_operation(handler, route.path_format, operation)
    return document


def _openapi_path(path_format: str) -> str:
    return path_format
