"""HTTP hygiene: security headers, request ids, CORS, probes and the OpenAPI document."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health_pb2

from tests.e2e.conftest import Login, Stack, running_gateway

pytestmark = pytest.mark.e2e


async def test_security_headers_on_api_errors_and_probes(stack: Stack, admin: Login) -> None:
    c = stack.client
    for response in (
        await c.get("/api/v1/me", headers=admin.headers),
        await c.get("/api/v1/me"),
        await c.get("/healthz"),
    ):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "strict-transport-security" not in h  # not configured in this stack
    api = await c.get("/api/v1/me", headers=admin.headers)
    assert api.headers["cache-control"] == "no-store"
    # The interactive docs load only from the gateway itself, and still may not be framed.
    for path in ("/docs", "/redoc"):
        docs = await c.get(path)
        assert docs.status_code == 200
        csp = docs.headers["content-security-policy"]
        assert "http" not in csp  # no external origin allowed
        assert "frame-ancestors 'none'" in csp
        assert "/static/vendor/" in docs.text
        assert "cdn." not in docs.text


async def test_hsts_when_configured(stack: Stack) -> None:
    async with running_gateway(stack.settings, hsts_max_age_seconds=31536000) as (_, client):
        r = await client.get("/healthz")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    production = stack.settings.model_copy(update={"env": "production"})
    async with running_gateway(production) as (_, client):
        r = await client.get("/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_request_id_is_kept_when_sane_and_made_otherwise(stack: Stack) -> None:
    c = stack.client
    r = await c.get("/api/v1/me", headers={"X-Request-ID": "client-abc.123"})
    assert r.headers["x-request-id"] == "client-abc.123"
    assert r.json()["error"]["request_id"] == "client-abc.123"

    r = await c.get("/healthz", headers={"X-Request-ID": "bad id with spaces\x7f"})
    assert r.headers["x-request-id"] != "bad id with spaces\x7f"
    assert len(r.headers["x-request-id"]) == 32
    r2 = await c.get("/healthz")
    assert r2.headers["x-request-id"] != r.headers["x-request-id"]
    r = await c.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert r.headers["x-request-id"] != "x" * 500


async def test_cors_only_for_configured_origins(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"cors_origins": ["https://app.mfi.example"]})
    async with running_gateway(settings) as (_, client):
        preflight = {
            "Origin": "https://app.mfi.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type,if-match",
        }
        r = await client.options("/api/v1/staff/abc", headers=preflight)
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == "https://app.mfi.example"
        assert "PATCH" in r.headers["access-control-allow-methods"]
        assert r.headers["x-content-type-options"] == "nosniff"

        r = await client.options(
            "/api/v1/staff/abc", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers

        r = await client.get("/healthz", headers={"Origin": "https://app.mfi.example"})
        assert r.headers["access-control-allow-origin"] == "https://app.mfi.example"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    # Without configuration no origin is allowed.
    r = await stack.client.get("/healthz", headers={"Origin": "https://app.mfi.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_liveness_and_readiness(stack: Stack) -> None:
    r = await stack.client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}

    r = await stack.client.get("/readyz")
    body = r.json()
    assert body["services"]["auth"] == "SERVING"
    assert body["services"]["user"] == "SERVING"
    not_running = [s for s, status in body["services"].items() if status != "SERVING"]
    # Services a later issue has not added to the stack yet are down, so not ready.
    assert r.status_code == (503 if not_running else 200)
    assert body["status"] == ("not_ready" if not_running else "ready")
    assert all(body["services"][s] == "UNAVAILABLE" for s in not_running)


async def test_readiness_when_a_service_reports_not_serving(stack: Stack) -> None:
    host = stack.hosts["user"]
    await host.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        r = await stack.client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["services"]["user"] == "NOT_SERVING"
    finally:
        await host.health.set("", health_pb2.HealthCheckResponse.SERVING)


async def test_openapi_documents_the_bearer_scheme_and_errors(stack: Stack) -> None:
    r = await stack.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": scheme["description"],
    }
    paths = spec["paths"]
    assert paths["/api/v1/staff"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/api/v1/auth/login"]["post"]
    assert "security" not in paths["/api/v1/auth/refresh"]["post"]
    login_responses = paths["/api/v1/auth/login"]["post"]["responses"]
    assert {"200", "401", "422", "429"} <= set(login_responses)
    assert login_responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    role = spec["components"]["schemas"]["RoleName"]
    assert role["enum"] == ["ADMIN", "AGENT"]
    # Every 422 is documented with our error shape, not FastAPI's default one.
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
    # 413 and the 5xx answers can meet any operation; each is documented in the error shape.
    for path, operations in paths.items():
        for method, operation in operations.items():
            expected = {"500", "502", "503", "504"}
            if "requestBody" in operation:
                expected.add("413")
            assert expected <= set(operation["responses"]), (method, path)
            for status in expected if path.startswith("/api/") else ():
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    # Idempotency-Key is required, as the route enforces.
    (key,) = [
        p for p in paths["/api/v1/payments"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    ]
    assert (key["in"], key["required"]) == ("header", True)
