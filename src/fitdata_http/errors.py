"""The one place errors become HTTP responses: RFC 9457 problem details.

:func:`problem_for` maps any exception to a :class:`Problem`; :func:`handle_exception` is the
Litestar exception handler registered for ``Exception`` on the app, so every failure (core
errors, Litestar's own, and the unexpected) leaves through here::

    fitdata_core.errors              status
    ─────────────────────────────    ──────
    InvalidInput                     400   (+ ``field``; ``errors`` for InvalidFields)
      BusinessRuleViolation          400   (``code`` from the rule, e.g. PAYMENT_REQUIRED)
    AuthenticationRequired           401   (+ ``WWW-Authenticate: Bearer``)
    PermissionDenied                 403
      FeatureNotInTier               403
    NotFound                         404
    Conflict                         409
      IllegalTransition              409
      IdempotencyKeyInUse            409
    Gone                             410
    IdempotencyKeyReused             422
    PayloadTooLarge                  413
    RateLimited                      429   (+ ``Retry-After``)
    CredentialsUnreadable            409   (names the key id and what to do)
    ConfigurationError               500   (generic detail; logged)
    Unavailable (and subclasses)     503   (+ ``Retry-After``)
    FitdataError (anything else)     500   (generic detail; logged)
    any other exception              500   (generic detail; logged and reported)

Details of 5xx problems are generic; only 4xx problems and 503s carry the error's message,
which core errors build from safe values only. Every 503 carries ``Retry-After`` (seconds):
``FITDATA_RETRY_AFTER_SECONDS`` unless the problem names its own (the Cardcom webhook does).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any

import attrs
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    SerializationException,
    ValidationException,
)

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.converter import InvalidFields
from fitdata_adapters.logging import get_logger
from fitdata_adapters.settings import DEFAULT_RETRY_AFTER_SECONDS
from fitdata_core import errors as core
from fitdata_http.context import RUNTIME_KEY, request_id_of, services_of

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "handle_exception",
    "problem_for",
    "problem_response",
    "retry_after_of",
    "status_for",
]

PROBLEM_JSON = "application/problem+json"
GENERIC_DETAIL = "An unexpected error occurred. Quote the request id when reporting it."

# Most specific first is not needed: the lookup walks the exception's MRO.
_STATUS: dict[type[core.FitdataError], int] = {
    core.InvalidInput: 400,
    core.AuthenticationRequired: 401,
    core.PermissionDenied: 403,
    core.NotFound: 404,
    core.Conflict: 409,
    core.Gone: 410,
    core.IdempotencyKeyReused: 422,
    core.PayloadTooLarge: 413,
    core.RateLimited: 429,
    core.CredentialsUnreadable: 409,
    core.ConfigurationError: 500,
    core.Unavailable: 503,
    core.FitdataError: 500,
}

_log = get_logger("fitdata.http")


@attrs.frozen
class FieldProblem:
    field: str
    message: str


@attrs.frozen
class Problem:
    """An RFC 9457 problem: what the client sees, plus headers and whether to log it."""

    status: int
    code: str
    detail: str
    title: str = ""
    field: str | None = None
    errors: tuple[FieldProblem, ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    extensions: Mapping[str, Any] = attrs.field(factory=dict)
    unexpected: bool = False  # a bug or an outage: log it and report it

    @property
    def type(self) -> str:
        return f"urn:fitdata:problem:{self.code.lower().replace('_', '-')}"

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title or _phrase(self.status),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        body.update(self.extensions)
        if request_id is not None:
            body["requestId"] = request_id
        return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_for(exc: core.FitdataError) -> int:
    """The HTTP status of a core error: the one error → status map (:data:`_STATUS`), also
    for the few handlers that answer a core error in their own words (the Cardcom webhook,
    the checkout return page)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500  # pragma: no cover - FitdataError is in the table


def _core_problem(exc: core.FitdataError) -> Problem:
    status = status_for(exc)
    if status == 500:
        # ConfigurationError names environment variables, and a bare FitdataError is a bug:
        # neither is the client's business.
        return Problem(500, "INTERNAL_ERROR", GENERIC_DETAIL, unexpected=True)
    headers: dict[str, str] = {}
    field: str | None = None
    errors: tuple[FieldProblem, ...] = ()
    if isinstance(exc, core.InvalidInput):
        field = exc.field
    if isinstance(exc, InvalidFields):
        errors = tuple(FieldProblem(e.field, e.message) for e in exc.errors)
    if isinstance(exc, core.AuthenticationRequired):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, core.RateLimited):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    return Problem(status, exc.code, exc.message, field=field, errors=errors, headers=headers)


_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def _enum_in(annotation: Any) -> type[Enum] | None:
    """The enum a parameter's type holds (``Role``, ``list[Role] | None``...), if any."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    for arg in typing.get_args(annotation):
        found = _enum_in(arg)
        if found is not None:
            return found
    return None


def _allowed_values(handler: Any, key: str) -> str | None:
    """``Allowed values: a, b.`` for the enum parameter ``key`` of ``handler``, so a client
    that sent an unknown value hears which ones exist (Litestar's message only quotes it)."""
    signature = getattr(handler, "parsed_fn_signature", None)
    if signature is None:
        return None
    for name, field in signature.parameters.items():
        kwarg = field.kwarg_definition
        aliases = {name, getattr(kwarg, "query", None), getattr(kwarg, "header", None)}
        if key in aliases:
            enum_cls = _enum_in(field.annotation)
            if enum_cls is not None:
                return "Allowed values: " + ", ".join(str(m.value) for m in enum_cls) + "."
    return None


def _validation_problem(exc: ValidationException, handler: Any = None) -> Problem:
    """Litestar's own validation failures (query, path, header, body), naming each field;
    an unknown enum value also lists the allowed ones."""
    found: list[FieldProblem] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        message = str(item.get("message") or "is not valid")
        if message.startswith("Invalid enum value"):
            allowed = _allowed_values(handler, key)
            message = f"{message}. {allowed}" if allowed else message
            if "," in message.partition(".")[0]:
                message += f" Send several as repeated parameters ({key}=a&{key}=b)."
        if str(item.get("source")) == "body" and key == "data":
            # Litestar names the whole body "data" and reports a missing one as "'data'".
            key = "body"
            if message == "'data'":
                message = "A JSON body is required."
        found.append(FieldProblem(key, message))
    missing = _MISSING_PARAMETER.match(str(exc.detail or ""))
    if not found and missing:
        # Litestar says which parameter is missing only in its message (with the whole URL).
        kind, name = missing.groups()
        found.append(FieldProblem(name, f"is required (a {kind} parameter)"))
    if not found:
        return Problem(400, "VALIDATION_FAILED", "The request is not valid.")
    detail = "Invalid request: " + "; ".join(f"{p.field}: {p.message}" for p in found)
    return Problem(
        400, "VALIDATION_FAILED", detail, field=found[0].field or None, errors=tuple(found)
    )


def _http_problem(exc: HTTPException, handler: Any = None) -> Problem:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException):
        return _validation_problem(exc, handler)
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        # Litestar's wrapping of a body that would not decode (msgspec's message varies).
        return Problem(400, "MALFORMED_JSON", "The request body is not valid JSON.")
    if isinstance(exc, NotFoundException):
        return Problem(404, "NOT_FOUND", "Nothing is served at this path.", headers=headers)
    if status == 413:
        # Litestar's body-size limit: the same code as the core's PayloadTooLarge.
        return Problem(413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
    if status >= 500:
        return Problem(status, "INTERNAL_ERROR", GENERIC_DETAIL, unexpected=status == 500)
    code = _phrase(status).upper().replace(" ", "_").replace("-", "_")
    return Problem(status, code, str(exc.detail or _phrase(status)), headers=headers)


def problem_for(exc: BaseException, handler: Any = None) -> Problem:
    """The problem a client sees for ``exc`` (raised on the way to ``handler``, the route
    handler when known). Never includes an unexpected error's message."""
    if isinstance(exc, core.FitdataError):
        return _core_problem(exc)
    if isinstance(exc, HTTPException):
        return _http_problem(exc, handler)
    return Problem(500, "INTERNAL_ERROR", GENERIC_DETAIL, unexpected=True)


def retry_after_of(connection: ASGIConnection[Any, Any, Any, Any]) -> int:
    """The configured ``Retry-After`` of 503s (the default outside a fitdata app)."""
    runtime = connection.app.state.get(RUNTIME_KEY)
    if isinstance(runtime, Runtime):
        return runtime.settings.retry_after_seconds
    return DEFAULT_RETRY_AFTER_SECONDS


def problem_response(
    problem: Problem,
    request_id: str | None = None,
    *,
    retry_after: int = DEFAULT_RETRY_AFTER_SECONDS,
) -> Response[Any]:
    """The problem as an ``application/problem+json`` response.

    A 503 always tells the client when to come back: ``retry_after`` seconds unless the
    problem already sets ``Retry-After``.
    """
    headers = dict(problem.headers)
    if problem.status == 503 and not any(k.lower() == "retry-after" for k in headers):
        headers["Retry-After"] = str(max(1, retry_after))
    return Response(
        content=problem.body(request_id),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar exception handler for every exception the app raises."""
    problem = problem_for(exc, request.scope.get("route_handler"))
    request_id = request_id_of(request)
    if problem.unexpected:
        _log.error(
            "unhandled_error",
            request_id=request_id,
            method=request.method,
            path=request.url.path,
            error=type(exc).__name__,
            exc_info=exc,
        )
        services = services_of(request)
        if services is not None:
            services.errors.capture_exception(
                exc, request_id=request_id, method=request.method, path=request.url.path
            )
    return problem_response(problem, request_id, retry_after=retry_after_of(request))
