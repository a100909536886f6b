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
    meta = page["properties"]["meta"]
    assert meta["required"] == ["total", "limit", "offset", "nextCursor"]
    # A cursor page counts nothing and has no offset; the last page has no next cursor.
    for nullable in ("total", "offset", "nextCursor"):
        assert {"type": "null"} in meta["properties"][nullable]["oneOf"]
    assert listed["required"] == ["data"]
    assert listed["properties"]["data"]["items"]["properties"]["price"]["required"] == [
        "amount",
        "currency",
    ]


def test_the_csv_download_is_text_csv(document: dict[str, Any]) -> None:
    export = document["paths"]["/organizations/{orgId}/analytics/export"]["get"]["responses"]

    assert list(export["200"]["content"]) == ["text/csv"]


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema-like object in ``node`` with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(_walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_walk(value, f"{path}[{index}]"))
    return found


def test_no_free_form_objects_are_left(document: dict[str, Any]) -> None:
    loose = [
        where
        for where, node in _walk(document["paths"])
        if node.get("type") == "object"
        and not node.get("properties")
        and node.get("additionalProperties") in (None, True, {})
    ]

    assert loose == []


def _confirm_mapping(document: dict[str, Any]) -> dict[str, Any]:
    body = _body(document, "/organizations/{orgId}/import/csv/jobs/{jobId}/confirm")
    mapping: dict[str, Any] = body["properties"]["columnMapping"]["properties"]
    return mapping


def test_a_csv_mapping_maps_headers_to_known_field_names(document: dict[str, Any]) -> None:
    mapping = _confirm_mapping(document)
    members = mapping["memberFields"]["additionalProperties"]["oneOf"]
    plans = mapping["planFields"]["oneOf"][0]["additionalProperties"]["oneOf"]

    assert {"email", "firstName", "fullName", "zipCode", ""} <= set(members[0]["enum"])
    assert "price" not in members[0]["enum"]
    assert plans[0]["enum"] == ["name", "price", "sessionCount", "periodMonths", ""]
    # A header mapped to null is not imported.
    assert members[1] == plans[1] == {"type": "null"}


def test_a_csv_confirm_asks_for_one_entity_at_least(document: dict[str, Any]) -> None:
    body = _body(document, "/organizations/{orgId}/import/csv/jobs/{jobId}/confirm")

    assert [branch["required"] for branch in body["properties"]["entities"]["anyOf"]] == [
        ["members"],
        ["plans"],
        ["leads"],
    ]


def test_an_import_job_reports_typed_counts_progress_and_problems(
    document: dict[str, Any],
) -> None:
    path = "/organizations/{orgId}/import/jobs/{jobId}"
    answer = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    job = answer["schema"]["properties"]["data"]["properties"]

    assert set(job["results"]["additionalProperties"]["properties"]) == {
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
    }
    assert set(job["progress"]["additionalProperties"]["properties"]) == {"processed", "total"}
    problem = job["errors"]["items"]["properties"]
    assert problem["severity"]["enum"] == ["error", "warning"]
    assert {"entity", "reason", "sourceId", "email", "field"} <= set(problem)
    assert {"entities", "memberFields", "file", "columnMapping", "retryOf"} <= set(
        job["config"]["properties"]
    )


def test_the_routes_reading_an_imports_stored_file_document_410(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    for method, path in [
        ("get", "/organizations/{orgId}/import/jobs/{jobId}/rejects"),
        ("post", "/organizations/{orgId}/import/jobs/{jobId}/retry-failed"),
    ]:
        gone = paths[path][method]["responses"]["410"]
        assert gone["content"]["application/problem+json"]["schema"] == PROBLEM
    # Only they do: nothing else reads a file the retention deletes.
    others = [
        (method, path)
        for method, path, operation in _operations(document)
        if "410" in operation["responses"]
    ]
    assert sorted(others) == [
        ("GET", "/organizations/{orgId}/import/jobs/{jobId}/rejects"),
        ("POST", "/organizations/{orgId}/import/jobs/{jobId}/retry-failed"),
    ]
    job = paths["/organizations/{orgId}/import/jobs/{jobId}"]["get"]["responses"]["200"]
    config = job["content"]["application/json"]["schema"]["properties"]["data"]["properties"][
        "config"
    ]
    assert "fileDeletedAt" in config["required"]
    deleted_at = config["properties"]["fileDeletedAt"]
    assert {"type": "string", "format": "date-time"} in deleted_at["oneOf"]


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    parameters = document["paths"][path]["get"]["parameters"]
    return next(p for p in parameters if p["name"] == name)


def test_member_filters_are_repeated_enum_parameters(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name, enum in (("role", "Role"), ("status", "MembershipStatus")):
        parameter = _parameter(document, "/organizations/{orgId}/members", name)
        array = parameter["schema"]["oneOf"][0]

        assert array["type"] == "array"
        assert array["items"] == {"$ref": f"#/components/schemas/{enum}"}
        assert parameter.get("style", "form") == "form"
        assert parameter.get("explode", True) is True
    assert schemas["Role"]["enum"] == ["owner", "admin", "coach", "member"]


def test_the_analytics_tab_is_an_enum_and_days_are_dates(document: dict[str, Any]) -> None:
    tabs = document["components"]["schemas"]["AnalyticsTab"]["enum"]
    export = "/organizations/{orgId}/analytics/export"

    assert "revenue-summary" in tabs
    assert _parameter(document, export, "tab")["required"] is True
    for path in (export, "/organizations/{orgId}/analytics/{tab}"):
        schema = _parameter(document, path, "tab")["schema"]
        assert schema["allOf"] == [{"$ref": "#/components/schemas/AnalyticsTab"}]
    assert _parameter(document, export, "from")["schema"]["format"] == "date"


def _body(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_low_profile_id_has_its_format(document: dict[str, Any]) -> None:
    body = _body(document, "/organizations/{orgId}/billing/verify-checkout")

    assert body["properties"]["lowProfileId"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": "^[A-Za-z0-9_-]{1,100}$",
    }


def test_checkout_offers_only_paid_tiers(document: dict[str, Any]) -> None:
    body = _body(document, "/organizations/{orgId}/billing/checkout")

    assert body["properties"]["tier"]["enum"] == ["pro", "elite"]


def test_provider_config_states_its_rules_and_its_answer(document: dict[str, Any]) -> None:
    path = "/organizations/{orgId}/import/provider-config"
    body = _body(document, path)
    answer = document["paths"][path]["post"]["responses"]["201"]["content"]["application/json"]

    assert [branch["required"] for branch in body["anyOf"]] == [["apiKey"], ["email", "password"]]
    assert body["properties"]["apiKey"]["oneOf"][0]["maxLength"] == 512
    assert body["additionalProperties"] is False
    assert "hasApiKey" in answer["schema"]["properties"]["data"]["properties"]


def test_billing_events_carry_typed_data(document: dict[str, Any]) -> None:
    responses = document["paths"]["/organizations/{orgId}/billing/events"]["get"]["responses"]
    event = responses["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    data = event["items"]["properties"]["data"]

    assert set(data["properties"]) == {
        "kind",
        "tier",
        "amount",
        "reason",
        "count",
        "periodEnd",
        "nextAttemptAt",
        "fromTier",
        "toTier",
    }


def test_request_strings_refuse_nul_characters(document: dict[str, Any]) -> None:
    name = _body(document, "/organizations/{orgId}/courses")["properties"]["name"]

    assert "\\u0000" in name["pattern"]
