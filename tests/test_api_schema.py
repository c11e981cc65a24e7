"""The OpenAPI schema a client generates its code from says what each operation answers."""

import json

import pytest

ERROR_REF = "#/components/schemas/Error"
VERSIONS = "/api/v1/models/{name}/versions/"
STAGE = "/api/v1/models/{name}/versions/{number}/stage/"
ARTIFACT = "/api/v1/models/{name}/versions/{number}/artifacts/{path}"
COMMENT = "/api/v1/threads/{thread_id}/comments/{comment_id}/"


@pytest.fixture
def schema(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def error_statuses(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    return {
        int(code)
        for code, answer in responses.items()
        if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        == ERROR_REF
    }


@pytest.mark.parametrize(
    "path, method, statuses",
    [
        (VERSIONS, "post", {400, 401, 403, 404, 413, 415, 429}),
        (VERSIONS, "get", {400, 401, 403, 404, 429}),
        (STAGE, "post", {400, 401, 403, 404, 409, 413, 415, 429}),
        (
            "/api/v1/models/{name}/versions/{number}/load-checks/",
            "post",
            {400, 401, 403, 404, 409, 429},
        ),
        ("/api/v1/models/", "post", {400, 401, 403, 404, 413, 415, 429}),
        ("/api/v1/teams/", "get", {401, 403, 429}),
        ("/api/v1/tokens/{token_id}/", "delete", {400, 401, 403, 404, 429}),
        (ARTIFACT, "get", {400, 401, 403, 404, 429}),
        ("/api/v1/notifications/", "get", {400, 401, 403, 404, 429}),
        ("/api/v1/notifications/read/", "post", {400, 401, 403, 404, 413, 415, 429}),
        ("/api/v1/models/{name}/watch/", "delete", {400, 401, 403, 404, 429}),
        ("/api/v1/threads/", "get", {400, 401, 403, 404, 429}),
        ("/api/v1/threads/", "post", {400, 401, 403, 404, 413, 415, 429}),
        (COMMENT, "patch", {400, 401, 403, 404, 413, 415, 429}),
        (COMMENT, "delete", {400, 401, 403, 404, 429}),
        ("/api/v1/threads/{thread_id}/resolve/", "post", {400, 401, 403, 404, 429}),
        ("/api/v1/models/{name}/requests/", "post", {400, 401, 403, 404, 409, 413, 415, 429}),
        ("/api/v1/requests/", "get", {400, 401, 403, 404, 429}),
        ("/api/v1/requests/{number}/", "get", {400, 401, 403, 404, 429}),
        ("/api/v1/requests/{number}/reviews/", "post", {400, 401, 403, 404, 409, 413, 415, 429}),
        ("/api/v1/requests/{number}/merge/", "post", {400, 401, 403, 404, 409, 429}),
        ("/api/v1/requests/{number}/withdraw/", "post", {400, 401, 403, 404, 409, 429}),
        ("/api/v1/requests/{number}/close/", "post", {400, 401, 403, 404, 409, 413, 415, 429}),
        ("/api/v1/teams/{slug}/policies/", "put", {400, 401, 403, 404, 413, 415, 429}),
    ],
)
def test_each_operation_documents_the_errors_it_can_answer(schema, path, method, statuses):
    assert error_statuses(schema, path, method) == statuses


def test_errors_are_documented_in_the_apis_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    shape = schema["components"]["schemas"]["ErrorBody"]
    assert set(shape["required"]) == {"status", "code", "message", "detail"}
    assert "request_id" in shape["properties"]


def test_fields_that_can_be_empty_are_nullable(schema):
    components = schema["components"]["schemas"]
    version = components["Version"]["properties"]
    assert version["created_by"]["nullable"] is True
    assert version["token"]["nullable"] is True
    assert components["Model"]["properties"]["created_by"]["nullable"] is True


def test_a_request_is_documented_with_its_conversation(schema):
    answer = schema["paths"]["/api/v1/requests/{number}/"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    request = schema["components"]["schemas"][ref]
    assert {"reviews", "missing", "conversation"} <= set(request["required"])
    message = request["properties"]["conversation"]["items"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][message]["properties"]
    assert {"kind", "author", "body", "at"} <= set(fields)


def test_a_new_token_is_documented_with_the_token_itself(schema):
    created = schema["paths"]["/api/v1/tokens/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "token" in schema["components"]["schemas"][ref]["required"]


def test_a_download_is_documented_as_bytes(schema):
    responses = schema["paths"][ARTIFACT]["get"]["responses"]
    assert responses["200"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    assert "304" in responses


def test_the_audit_log_is_documented_as_json_pages_or_a_csv_download(schema):
    operation = schema["paths"]["/api/v1/audit/"]["get"]
    content = operation["responses"]["200"]["content"]
    assert content["text/csv"] == {"schema": {"type": "string"}}
    assert content["application/json"]["schema"]["$ref"].endswith("PaginatedAuditEventList")
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert sorted(parameters["format"]["schema"]["enum"]) == ["csv", "json"]
    assert {"model", "team", "actor", "verb", "object", "since", "until"} <= set(parameters)
