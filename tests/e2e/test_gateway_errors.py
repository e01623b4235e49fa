"""Client mistakes are 4xx in the one error shape, naming the field; never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc import aio

from api_gateway.errors import rpc_error_response
from shared.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from shared.grpc.status import to_grpc_status
from tests.e2e.conftest import NOT_RUNNING, Login, Stack, running_gateway, unique_email

pytestmark = pytest.mark.e2e


def fields_of(body: dict[str, Any]) -> list[str]:
    return [f["field"] for f in body["error"]["fields"]]


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["fields"], list)
    assert error["request_id"]


async def test_malformed_json_is_422(stack: Stack) -> None:
    r = await stack.client.post(
        "/api/v1/auth/login",
        content=b'{"username": "a@b.org", "password": ',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert_error_shape(r.json(), "INVALID_ARGUMENT")
    assert fields_of(r.json()) == ["body"]


async def test_undecodable_bodies_are_422_like_other_malformed_ones(
    stack: Stack, admin: Login
) -> None:
    deep = b'{"username": ' + b"[" * 1000 + b"]" * 1000 + b', "password": "x"}'
    for content, why in (
        (b'{"username": "\xff\xfe", "password": "x"}', "UTF-8"),
        (deep, "nested too deeply"),
    ):
        for path, headers in (
            ("/api/v1/auth/login", {}),
            ("/api/v1/payments", {**admin.headers, "Idempotency-Key": "k-undecodable"}),
        ):
            r = await stack.client.post(
                path, content=content, headers={**headers, "Content-Type": "application/json"}
            )
            assert r.status_code == 422, (path, why, r.text)
            assert_error_shape(r.json(), "INVALID_ARGUMENT")
            assert fields_of(r.json()) == ["body"]
            assert why in r.json()["error"]["fields"][0]["description"]


async def test_missing_wrong_type_and_unknown_fields_are_named(stack: Stack) -> None:
    c = stack.client
    r = await c.post("/api/v1/auth/login", json={"username": "a@b.org"})
    assert r.status_code == 422
    assert fields_of(r.json()) == ["password"]

    r = await c.post("/api/v1/auth/login", json={"username": 12, "password": ["x"]})
    assert r.status_code == 422
    assert sorted(fields_of(r.json())) == ["password", "username"]

    r = await c.post(
        "/api/v1/auth/login", json={"username": "a@b.org", "password": "x", "pasword": "y"}
    )
    assert r.status_code == 422
    assert fields_of(r.json()) == ["pasword"]

    r = await c.post("/api/v1/auth/login", json=["not", "an", "object"])
    assert r.status_code == 422

    r = await c.post("/api/v1/auth/login", content=b"", headers={"Content-Type": "text/plain"})
    assert r.status_code == 422


async def test_staff_body_problems_are_422_with_fields(stack: Stack, admin: Login) -> None:
    c = stack.client
    good = {
        "role": "AGENT",
        "full_name": "Valid Name",
        "email": unique_email(),
        "branch_id": "BR-1",
        "initial_password": "long-enough-pw-1",
    }
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({**good, "role": "BOSS"}, ["role"]),  # unknown enum, at the edge
        ({**good, "full_name": 123}, ["full_name"]),  # wrong type, at the edge
        ({**good, "email": "not-an-email"}, ["email"]),  # rule of user_service
        ({**good, "phone": "12"}, ["phone"]),  # rule of user_service
        ({**good, "initial_password": "short"}, ["initial_password"]),  # auth_service policy
        ({k: v for k, v in good.items() if k != "branch_id"}, ["branch_id"]),
    ]
    for body, expected in cases:
        r = await c.post("/api/v1/staff", json=body, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert_error_shape(r.json(), "INVALID_ARGUMENT")
        assert fields_of(r.json()) == expected, (body, r.text)


async def test_query_and_patch_problems_are_422(stack: Stack, admin: Login) -> None:
    c = stack.client
    for params, field in (
        ({"page_size": 100_000}, "page_size"),
        ({"page_size": "lots"}, "page_size"),
        ({"role": "OWNER"}, "role"),
        ({"active": "maybe"}, "active"),
        ({"page_token": "%%%garbage"}, "page_token"),
        ({"order_by": "password_hash"}, "order_by"),
    ):
        r = await c.get("/api/v1/staff", params=params, headers=admin.headers)
        assert r.status_code == 422, (params, r.text)
        assert fields_of(r.json()) == [field], (params, r.text)

    staff, _ = await stack.create_staff(admin)
    url = f"/api/v1/staff/{staff['id']}"
    for body, field in (
        ({}, "body"),
        ({"full_name": None}, "full_name"),
        ({"role": "KING"}, "role"),
        ({"id": "x"}, "id"),
        ({"email": "nope"}, "email"),
    ):
        r = await c.patch(url, json=body, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert fields_of(r.json()) == [field], (body, r.text)

    r = await c.get("/api/v1/staff/bad id!", headers=admin.headers)
    assert r.status_code == 422
    assert fields_of(r.json()) == ["staff_id"]


async def test_dates_are_yyyy_mm_dd_only(stack: Stack, admin: Login) -> None:
    # "0" was read as Unix time 0 (1970-01-01); midnight datetimes passed as dates too.
    c = stack.client
    for bad in ("0", "1700000000", "2024-01-01T00:00:00", "20240101", "2024-W01-1"):
        for path, name in (
            ("/api/v1/loans", "disbursed_to"),
            ("/api/v1/loans", "disbursed_from"),
            ("/api/v1/loans/due", "date"),
            ("/api/v1/loans/some-loan/schedule", "as_of_date"),
            ("/api/v1/loans/some-loan/payoff-quote", "date"),
            ("/api/v1/collection-sheet", "date"),
            ("/api/v1/cash-summary", "date"),
        ):
            r = await c.get(path, params={name: bad}, headers=admin.headers)
            assert r.status_code == 422, (path, name, bad, r.text)
            assert fields_of(r.json()) == [name], (path, name, bad, r.text)
        for body in ({"value_date": bad}, {"value_date": 0}):
            r = await c.post(
                "/api/v1/loans/some-loan/waive",
                json={**body, "reason": "x", "installment_number": 1},
                headers=admin.headers,
            )
            assert r.status_code == 422, (body, r.text)
            assert fields_of(r.json()) == ["value_date"], (body, r.text)


async def test_unknown_routes_and_methods_use_the_error_shape(stack: Stack, admin: Login) -> None:
    r = await stack.client.get("/api/v1/no-such-thing", headers=admin.headers)
    assert r.status_code == 404
    assert_error_shape(r.json(), "NOT_FOUND")
    r = await stack.client.delete("/api/v1/staff/abc", headers=admin.headers)
    assert r.status_code == 405
    assert_error_shape(r.json(), "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, PATCH"


async def test_options_and_405_name_every_method_of_the_path(stack: Stack, admin: Login) -> None:
    # GET and POST of one path are two routes; Starlette's 405 named only the first one.
    for path, allow in (
        ("/api/v1/loans", "GET, HEAD, OPTIONS, POST"),
        ("/api/v1/payments", "GET, HEAD, OPTIONS, POST"),
        ("/api/v1/staff/abc", "GET, HEAD, OPTIONS, PATCH"),
        ("/api/v1/auth/login", "OPTIONS, POST"),
    ):
        r = await stack.client.options(path, headers=admin.headers)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["allow"] == allow, path
        assert r.content == b""
        r = await stack.client.put(path, json={}, headers=admin.headers)
        assert r.status_code == 405, (path, r.text)
        assert r.headers["allow"] == allow, path
        assert_error_shape(r.json(), "METHOD_NOT_ALLOWED")


async def test_no_lax_coercion_of_booleans_and_integers(stack: Stack, admin: Login) -> None:
    r = await stack.client.post(
        "/api/v1/auth/logout", json={"all_sessions": "yes"}, headers=admin.headers
    )
    assert r.status_code == 422
    assert fields_of(r.json()) == ["all_sessions"]
    staff, _ = await stack.create_staff(admin)
    r = await stack.client.patch(
        f"/api/v1/staff/{staff['id']}",
        json={"full_name": "N", "expected_version": "1"},
        headers=admin.headers,
    )
    assert r.status_code == 422
    assert fields_of(r.json()) == ["expected_version"]
    # The admin's token still works: the refused logout did nothing.
    assert (await stack.client.get("/api/v1/me", headers=admin.headers)).status_code == 200


async def test_numbers_beyond_int64_are_422_not_500(stack: Stack, admin: Login) -> None:
    huge = 2**63
    money = {"amount_minor": huge, "currency": "USD"}
    cases: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("POST", "/api/v1/payments",
         {"loan_id": "L1", "amount": money, "channel": "CASH"}, {"Idempotency-Key": "k"}),
        ("POST", "/api/v1/loans",
         {"borrower_id": "b", "product_id": "p", "principal": money, "installments": 4}, {}),
        ("PATCH", "/api/v1/borrowers/b1", {"expected_version": huge}, {}),
        ("POST", "/api/v1/loans/L1/approve", {"expected_version": huge}, {}),
    ]
    staff, _ = await stack.create_staff(admin)
    cases.append(
        ("PATCH", f"/api/v1/staff/{staff['id']}", {"full_name": "N", "expected_version": huge}, {})
    )
    for method, url, payload, extra in cases:
        r = await stack.client.request(
            method, url, json=payload, headers={**admin.headers, **extra}
        )
        assert r.status_code == 422, (url, r.text)
        named = fields_of(r.json())
        assert any(f.endswith(("amount_minor", "expected_version")) for f in named), named


async def test_a_service_that_is_down_is_503_without_transport_details(
    stack: Stack, admin: Login
) -> None:
    settings = stack.settings.model_copy(update={"user_addr": NOT_RUNNING})
    async with running_gateway(settings) as (_, client):
        r = await client.get("/api/v1/me", headers=admin.headers)
    assert r.status_code == 503, r.text
    assert_error_shape(r.json(), "UNAVAILABLE")
    assert "127.0.0.1" not in r.text
    assert r.json()["error"]["message"] == "a service is unavailable, try again shortly"
    assert r.headers["retry-after"] == "2"


async def test_a_gateway_bug_is_a_500_in_the_error_shape(stack: Stack) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug, with a detail the client must not see")

    async with running_gateway(stack.settings) as (app, client):
        app.add_api_route("/api/v1/broken", broken)
        r = await client.get("/api/v1/broken", headers={"X-Request-ID": "bug-1"})
    assert r.status_code == 500
    assert_error_shape(r.json(), "INTERNAL")
    assert "bug-1" in r.json()["error"]["message"]
    assert "detail" not in r.text
    assert r.headers["x-request-id"] == "bug-1"
    assert r.headers["x-content-type-options"] == "nosniff"


def rpc_error(err: DomainError) -> aio.AioRpcError:
    """The error a client sees when a service raises ``err`` (same encoding as the servers)."""
    status = to_grpc_status(err)
    return aio.AioRpcError(
        status.code,
        aio.Metadata(),
        aio.Metadata(*status.trailing_metadata),
        status.details,
        None,
    )


@pytest.mark.parametrize(
    ("err", "http", "code"),
    [
        (InvalidArgument.field("email", "is bad"), 422, "INVALID_ARGUMENT"),
        (NotFound("no such loan"), 404, "NOT_FOUND"),
        (AlreadyExists("taken", existing_id="b-42"), 409, "ALREADY_EXISTS"),
        (FailedPrecondition("loan is CLOSED"), 409, "FAILED_PRECONDITION"),
        (Conflict("version 3, not 2"), 409, "ABORTED"),
        (PermissionDenied("admins only"), 403, "PERMISSION_DENIED"),
        (Unauthenticated("expired"), 401, "UNAUTHENTICATED"),
        (ResourceExhausted("locked"), 429, "RESOURCE_EXHAUSTED"),
        (Unavailable("search is down"), 503, "UNAVAILABLE"),
    ],
)
def test_the_one_mapping_table(err: DomainError, http: int, code: str) -> None:
    response = rpc_error_response(rpc_error(err))
    assert response.status_code == http
    body = json.loads(bytes(response.body))["error"]
    assert body["code"] == code
    assert body["message"] == err.message  # a service's own message is kept
    if isinstance(err, AlreadyExists):
        assert body["existing_id"] == "b-42"
    if err.violations:
        assert body["fields"] == [{"field": "email", "description": "is bad"}]
    if http == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if http == 503:
        assert response.headers["retry-after"] == "2"  # unavailable means retry, and when


@pytest.mark.parametrize(
    ("code", "http"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.INTERNAL, 502),
        (grpc.StatusCode.UNKNOWN, 502),
        (grpc.StatusCode.DATA_LOSS, 502),
        (grpc.StatusCode.CANCELLED, 502),
    ],
)
def test_transport_and_server_failures_hide_their_text(code: grpc.StatusCode, http: int) -> None:
    text = "ipv4:10.0.0.5:50052 exploded"
    exc = aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), text, None)
    response = rpc_error_response(exc)
    assert response.status_code == http
    body = json.loads(bytes(response.body))["error"]
    assert body["code"] == code.name
    assert "10.0.0.5" not in body["message"]


async def test_oversized_bodies_are_413(stack: Stack) -> None:
    big = b'{"username": "' + b"a" * (1024 * 1024) + b'", "password": "x"}'
    r = await stack.client.post(
        "/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert_error_shape(r.json(), "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: counted while it streams in.
        yield b'{"username": "'
        for _ in range(64):
            yield b"a" * 32768
        yield b'", "password": "x"}'

    r = await stack.client.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert_error_shape(r.json(), "PAYLOAD_TOO_LARGE")


# -- every route of the OpenAPI -----------------------------------------------------------
# The tests above name the routes that went wrong; these follow the published schema, so a
# route or a date field added later is held to the same rules without being listed here.

NOT_DATES = ("0", "1700000000", "20240101", "2024-W01-1", "2024-01-01T00:00:00")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _is_date(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(
        o.get("format") == "date" or r"\d{4}-\d{2}-\d{2}" in o.get("pattern", "") for o in options
    )


def _date_fields(
    schema: dict[str, Any], components: dict[str, Any], seen: frozenset[str] = frozenset()
) -> list[tuple[tuple[str | int, ...], str]]:
    """(path to the field in a body, its name) for every date field a request body has."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _date_fields(components[name], components, seen | {name})
    found: list[tuple[tuple[str | int, ...], str]] = []
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        found += _date_fields(option, components, seen)
    if "items" in schema:
        items = _date_fields(schema["items"], components, seen)
        found += [((0, *path), leaf) for path, leaf in items]
    for name, prop in schema.get("properties", {}).items():
        if _is_date(prop):
            found.append(((name,), name))
        found += [((name, *path), leaf) for path, leaf in _date_fields(prop, components, seen)]
    return found


def _body_with(path: tuple[str | int, ...], value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    return [_body_with(rest, value)] if isinstance(head, int) else {head: _body_with(rest, value)}


def _url(template: str) -> str:
    return template.replace("{", "x").replace("}", "")


async def test_every_date_of_the_openapi_is_yyyy_mm_dd_only(stack: Stack, admin: Login) -> None:
    spec = (await stack.client.get("/openapi.json")).json()
    components = spec["components"]["schemas"]
    headers = {**admin.headers, "Idempotency-Key": "k-dates"}
    checked: list[str] = []
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            if method not in HTTP_METHODS:
                continue
            for param in op.get("parameters", []):
                if param["in"] != "query" or not _is_date(param["schema"]):
                    continue
                checked.append(f"{method} {template} ?{param['name']}")
                for text in NOT_DATES:
                    r = await stack.client.request(
                        method, _url(template), params={param["name"]: text}, headers=headers
                    )
                    assert r.status_code == 422, (template, param["name"], text, r.text)
                    assert param["name"] in fields_of(r.json()), (template, text, r.text)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            for path, field in _date_fields(body["schema"], components) if body else []:
                checked.append(f"{method} {template} {field}")
                bad: str | int
                for bad in (*NOT_DATES, 0):
                    r = await stack.client.request(
                        method, _url(template), json=_body_with(path, bad), headers=headers
                    )
                    assert r.status_code == 422, (template, path, bad, r.text)
                    named = [f for f in fields_of(r.json()) if f.endswith(field)]
                    assert named, (template, path, bad, r.text)
    # The walk finds the dates it should (if the schema stopped saying so, it would find none).
    for expected in (
        "get /api/v1/loans ?disbursed_to",
        "get /api/v1/borrowers ?created_from",
        "get /api/v1/payments ?from_date",
        "get /api/v1/loans/{loan_id} ?as_of_date",
        "post /api/v1/payments value_date",
        "post /api/v1/loans/{loan_id}/disburse first_repayment_date",
        "post /api/v1/borrowers issue_date",
        "patch /api/v1/borrowers/{borrower_id} date_of_birth",
    ):
        assert expected in checked, checked


async def test_options_names_every_method_of_every_path(stack: Stack, admin: Login) -> None:
    spec = (await stack.client.get("/openapi.json")).json()
    assert len(spec["paths"]) > 30
    for template, operations in spec["paths"].items():
        methods = {m.upper() for m in operations if m in HTTP_METHODS} | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        r = await stack.client.options(_url(template), headers=admin.headers)
        assert r.status_code == 204, (template, r.text)
        assert set(r.headers["allow"].split(", ")) == methods, template
