"""The one error mapper: every core error class to its status and problem body."""

from __future__ import annotations

import inspect

import pytest
from litestar.exceptions import (
    ClientException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)

from fitdata_adapters.converter import FieldError, InvalidFields
from fitdata_core import errors as core
from fitdata_http.errors import GENERIC_DETAIL, PROBLEM_JSON, problem_for, problem_response

# One instance of every class in the tree, with the status the docstring promises.
CASES: list[tuple[core.FitdataError, int, str]] = [
    (core.InvalidInput("limit must be positive.", field="limit"), 400, "INVALID_INPUT"),
    (
        core.BusinessRuleViolation("Use checkout.", code="PAYMENT_REQUIRED"),
        400,
        "PAYMENT_REQUIRED",
    ),
    (core.AuthenticationRequired("A bearer token is required."), 401, "UNAUTHENTICATED"),
    (core.PermissionDenied("Only owners."), 403, "FORBIDDEN"),
    (core.FeatureNotInTier("courses"), 403, "FEATURE_NOT_IN_TIER"),
    (core.NotFound("Organization x not found."), 404, "NOT_FOUND"),
    (core.Conflict("Active import already exists"), 409, "CONFLICT"),
    (core.IllegalTransition("import job", "completed", "pending"), 409, "ILLEGAL_TRANSITION"),
    (core.IdempotencyKeyInUse("Still running."), 409, "IDEMPOTENCY_KEY_IN_USE"),
    (core.Gone("The file of this import was deleted on 2026-02-10."), 410, "GONE"),
    (core.IdempotencyKeyReused("Another request."), 422, "IDEMPOTENCY_KEY_REUSED"),
    (core.PayloadTooLarge("File too large"), 413, "PAYLOAD_TOO_LARGE"),
    (core.RateLimited("Slow down.", retry_after=30), 429, "RATE_LIMITED"),
    (
        core.CredentialsUnreadable("Sealed with key 'k0'; re-enter them.", key_id="k0"),
        409,
        "CREDENTIALS_UNREADABLE",
    ),
    (core.Unavailable("Try later."), 503, "UNAVAILABLE"),
    (core.DatabaseUnavailable("The database is unavailable."), 503, "DATABASE_UNAVAILABLE"),
    (core.StorageUnavailable("Storage is down."), 503, "STORAGE_UNAVAILABLE"),
    (core.QueueUnavailable("Queue is down."), 503, "QUEUE_UNAVAILABLE"),
    (core.MailUnavailable("Mail is down."), 503, "MAIL_UNAVAILABLE"),
    (core.ProviderError("cardcom", "timed out"), 503, "PROVIDER_ERROR"),
    (core.ProviderAuthError("arbox", "bad key", status=401), 503, "PROVIDER_AUTH"),
]


def test_the_cases_cover_every_error_class_in_the_tree() -> None:
    tree = {
        cls
        for _, cls in inspect.getmembers(core, inspect.isclass)
        if issubclass(cls, core.FitdataError)
    }
    # Those two answer with a generic 500 and are tested on their own below.
    covered = {type(exc) for exc, _, _ in CASES} | {core.FitdataError, core.ConfigurationError}
    assert tree == covered


@pytest.mark.parametrize(("exc", "status", "code"), CASES, ids=lambda v: type(v).__name__)
def test_core_errors_map_to_their_status_with_their_message(
    exc: core.FitdataError, status: int, code: str
) -> None:
    problem = problem_for(exc)
    body = problem.body("req-1")

    assert problem.status == status
    assert not problem.unexpected
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"] == exc.message
    assert body["type"] == "urn:fitdata:problem:" + code.lower().replace("_", "-")
    assert body["title"]
    assert body["requestId"] == "req-1"


def test_input_errors_name_the_field() -> None:
    assert problem_for(core.InvalidInput("bad", field="limit")).body()["field"] == "limit"
    assert "field" not in problem_for(core.InvalidInput("bad")).body()


def test_invalid_fields_list_every_error() -> None:
    exc = InvalidFields([FieldError("name", "is required"), FieldError("kind", "is odd")])
    body = problem_for(exc).body()

    assert body["status"] == 400
    assert body["code"] == "VALIDATION_FAILED"
    assert body["field"] == "name"
    assert body["errors"] == [
        {"field": "name", "message": "is required"},
        {"field": "kind", "message": "is odd"},
    ]
    assert body["detail"] == "Invalid input: name: is required; kind: is odd"


def test_401_carries_www_authenticate_and_429_retry_after() -> None:
    assert problem_for(core.AuthenticationRequired("x")).headers == {"WWW-Authenticate": "Bearer"}
    assert problem_for(core.RateLimited("x", retry_after=7)).headers == {"Retry-After": "7"}
    # A zero from a limiter would tell clients to hammer; at least one second.
    assert problem_for(core.RateLimited("x", retry_after=0)).headers == {"Retry-After": "1"}


@pytest.mark.parametrize(
    "exc",
    [
        core.FitdataError("A unit of work cannot be entered twice."),
        core.ConfigurationError("FITDATA_DATABASE_URL must be set: postgres://u:pw@h/db"),
        RuntimeError("connection to postgres://u:pw@h/db failed"),
        KeyError("api_key"),
    ],
)
def test_bugs_and_misconfiguration_are_a_generic_500(exc: Exception) -> None:
    problem = problem_for(exc)
    body = problem.body()

    assert problem.status == 500
    assert problem.unexpected
    assert body["detail"] == GENERIC_DETAIL
    assert body["code"] == "INTERNAL_ERROR"
    assert "pw" not in repr(body)
    assert "api_key" not in repr(body)


def test_litestar_validation_errors_name_the_fields() -> None:
    exc = ValidationException(
        "Validation failed for GET /x",
        extra=[
            {"message": "Expected `int`, got `str`", "key": "limit", "source": "query"},
            {"message": "Expected `int` >= 0", "key": "offset", "source": "query"},
        ],
    )
    body = problem_for(exc).body()

    assert body["status"] == 400
    assert body["field"] == "limit"
    assert body["errors"] == [
        {"field": "limit", "message": "Expected `int`, got `str`"},
        {"field": "offset", "message": "Expected `int` >= 0"},
    ]
    assert body["detail"] == (
        "Invalid request: limit: Expected `int`, got `str`; offset: Expected `int` >= 0"
    )


def test_malformed_json_is_400() -> None:
    exc = ClientException("Input data was truncated")
    exc.__cause__ = SerializationException("Input data was truncated")
    body = problem_for(exc).body()

    assert body["status"] == 400
    assert body["code"] == "MALFORMED_JSON"
    assert body["detail"] == "The request body is not valid JSON."


def test_litestar_http_errors_keep_their_status() -> None:
    not_found = problem_for(NotFoundException())
    method = problem_for(MethodNotAllowedException(headers={"Allow": "GET"}))

    assert not_found.status == 404
    assert method.status == 405
    assert method.code == "METHOD_NOT_ALLOWED"
    assert method.headers == {"Allow": "GET"}


def test_problem_response_uses_the_problem_media_type() -> None:
    response = problem_response(problem_for(core.NotFound("gone")), "req-9")

    assert response.media_type == PROBLEM_JSON
    assert response.status_code == 404
    assert response.content["requestId"] == "req-9"
