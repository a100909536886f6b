"""The OpenAPI document's shape, checked without a server: unique operation ids, problem
responses on every operation, envelopes with their payload types, the CSV download."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from support.openapi_document import openapi_document

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_operation_ids_are_unique_handler_names(document: dict[str, Any]) -> None:
    ids = Counter(op["operationId"] for _, _, op in _operations(document))

    assert [name for name, count in ids.items() if count > 1] == []
    assert {"listMembers", "checkout", "exportMembers", "getJob"} <= set(ids)


def test_every_operation_documents_its_errors_as_problem_details(
    document: dict[str, Any],
) -> None:
    for method, path, operation in _operations(document):
        errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
        if path != "/healthz":
            assert "503" in errors, (method, path)
        for code, response in errors.items():
            content = response["content"]
            assert "application/problem+json" in content or "text/html" in content, (path, code)
            if "application/problem+json" in content:
                assert content["application/problem+json"]["schema"] == PROBLEM


def test_org_routes_answer_401_403_404_and_bodies_400_413(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        codes = set(operation["responses"])
        if path.startswith("/organizations/{orgId}"):
            assert {"400", "401", "403", "404"} <= codes, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= codes, (method, path)


def test_idempotent_routes_declare_the_header_409_and_422(document: dict[str, Any]) -> None:
    keyed = [
        (method, path)
        for method, path, op in _operations(document)
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    ]

    # Exactly the routes docs/http-api.md names: the CSV upload is not among them (a retried
    # upload is safe as it is: it replaces the first, unconfirmed one).
    assert set(keyed) == {
        ("POST", "/organizations/{orgId}/billing/checkout"),
        ("POST", "/organizations/{orgId}/export/members"),
        ("POST", "/organizations/{orgId}/import"),
        ("POST", "/organizations/{orgId}/import/csv/jobs/{jobId}/confirm"),
        ("POST", "/organizations/{orgId}/import/jobs/{jobId}/retry-failed"),
    }
    for method, path in keyed:
        responses = document["paths"][path][method.lower()]["responses"]
        assert {"409", "422"} <= set(responses)


def test_pages_and_lists_have_their_envelopes(document: dict[str, Any]) -> None:
    members = document["paths"]["/organizations/{orgId}/members"]["get"]["responses"]["200"]
    plans = document["paths"]["/organizations/{orgId}/plans"]["get"]["responses"]["200"]
    page = members["content"]["application/json"]["schema"]
    listed = plans["content"]["application/json"]["schema"]

    assert page["required"] == ["data", "meta"]
    assert page["properties"]["data"]["items"]["properties"]["email"] == {"type": "string"}
    assert page["properties"]["meta"]["required"] == ["total", "limit", "offset"]
    assert listed["required"] == ["data"]
    assert listed["properties"]["data"]["items"]["properties"]["price"]["required"] == [
        "amount",
        "currency",
    ]


def test_the_csv_download_is_text_csv(document: dict[str, Any]) -> None:
    export = document["paths"]["/organizations/{orgId}/analytics/export"]["get"]["responses"]

    assert list(export["200"]["content"]) == ["text/csv"]
