"""The browser client's refresh token travels in the httpOnly ``mf_refresh`` cookie.

Each test uses its own client (own cookie jar) over the stack's gateway, so the cookies
set here never reach the shared ``stack.client`` other tests use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.conftest import Stack, bearer, gateway_client, running_gateway

pytestmark = pytest.mark.e2e

COOKIE_MODE = {"X-Token-Transport": "cookie"}
REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(stack.app) as client:
        yield client


def refresh_cookie(response: httpx.Response) -> dict[str, str]:
    """The mf_refresh Set-Cookie of a response, as {attribute (lower case): value}."""
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith("mf_refresh=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    name_value, *attributes = (part.strip() for part in found[0].split(";"))
    parsed = {"mf_refresh": name_value.split("=", 1)[1].strip('"')}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return parsed


async def cookie_login(
    stack: Stack, client: httpx.AsyncClient, email: str, password: str
) -> httpx.Response:
    r = await client.post(
        "/api/v1/auth/login",
        json={"username": email, "password": password},
        headers=COOKIE_MODE,
    )
    assert r.status_code == 200, r.text
    return r


async def test_login_in_cookie_mode_sets_a_strict_httponly_cookie(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    agent = await stack.ready_staff(await stack.admin_login())
    r = await cookie_login(stack, browser, agent.email, agent.password)
    body = r.json()
    assert body["refresh_token"] == ""
    assert body["access_token"]
    cookie = refresh_cookie(r)
    assert len(cookie["mf_refresh"]) > 20
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/api/v1/auth"
    assert "secure" not in cookie  # plain http, not production
    assert int(cookie["max-age"]) == body["refresh_expires_in"]
    assert int(cookie["max-age"]) == stack.settings.refresh_token_ttl_seconds

    # Without the header nothing changes: the token is in the body and no cookie is set.
    r = await browser.post(
        "/api/v1/auth/login", json={"username": agent.email, "password": agent.password}
    )
    assert r.status_code == 200
    assert r.json()["refresh_token"]
    assert "set-cookie" not in r.headers


async def test_refresh_by_cookie_needs_the_header(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    agent = await stack.ready_staff(await stack.admin_login())
    first = refresh_cookie(await cookie_login(stack, browser, agent.email, agent.password))

    # The cookie alone (what a cross-site form could send) is not enough.
    r = await browser.post(REFRESH)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == "refresh_token"
    r = await browser.post(REFRESH, json={})
    assert r.status_code == 422, r.text

    r = await browser.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] == ""
    second = refresh_cookie(r)
    assert second["mf_refresh"] != first["mf_refresh"]
    me = await browser.get("/api/v1/me", headers=bearer(r.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["staff"]["id"] == agent.staff_id

    # The jar now holds the rotated cookie; refreshing again rotates again.
    r = await browser.post(REFRESH, headers=COOKIE_MODE, json={})
    assert r.status_code == 200, r.text
    assert refresh_cookie(r)["mf_refresh"] not in (first["mf_refresh"], second["mf_refresh"])


async def test_refresh_in_cookie_mode_without_a_cookie_is_401(stack: Stack) -> None:
    async with gateway_client(stack.app) as fresh:
        r = await fresh.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "www-authenticate" in r.headers
    # An unknown header value is refused, naming the header.
    r = await stack.client.post(REFRESH, headers={"X-Token-Transport": "jar"})
    assert r.status_code == 422, r.text


async def test_reuse_of_a_spent_cookie_revokes_the_family(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    agent = await stack.ready_staff(await stack.admin_login())
    stolen = refresh_cookie(await cookie_login(stack, browser, agent.email, agent.password))
    r = await browser.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]

    # Someone replays the spent cookie value: the whole family dies, the jar's cookie too.
    async with gateway_client(stack.app) as thief:
        thief.cookies.set("mf_refresh", stolen["mf_refresh"], domain="gateway.e2e")
        r = await thief.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 401, r.text
    r = await browser.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 401, r.text
    r = await browser.get("/api/v1/me", headers=bearer(access))
    assert r.status_code == 401


async def test_logout_clears_the_cookie_and_revokes_its_family(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    agent = await stack.ready_staff(await stack.admin_login())
    r = await cookie_login(stack, browser, agent.email, agent.password)
    token = refresh_cookie(r)["mf_refresh"]
    access = r.json()["access_token"]

    r = await browser.post("/api/v1/auth/logout", headers=bearer(access))
    assert r.status_code == 204, r.text
    cleared = refresh_cookie(r)
    assert cleared["mf_refresh"] == ""
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/api/v1/auth"
    assert "mf_refresh" not in browser.cookies

    # The family is revoked: the old cookie value no longer refreshes.
    async with gateway_client(stack.app) as other:
        other.cookies.set("mf_refresh", token, domain="gateway.e2e")
        r = await other.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 401, r.text
    # The agent's other sessions (body tokens) are untouched.
    r = await stack.client.post(REFRESH, json={"refresh_token": agent.refresh_token})
    assert r.status_code == 200, r.text


async def test_password_change_in_cookie_mode_sets_the_new_cookie(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    record, initial = await stack.create_staff(await stack.admin_login())
    r = await cookie_login(stack, browser, record["email"], initial)
    assert r.json()["must_change_password"] is True
    r = await browser.post(
        "/api/v1/auth/password",
        json={"old_password": initial, "new_password": "Cookie-mode-Passw0rd"},
        headers={**COOKIE_MODE, **bearer(r.json()["access_token"])},
    )
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] == ""
    assert refresh_cookie(r)["mf_refresh"]
    r = await browser.post(REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 200, r.text
    assert r.json()["must_change_password"] is False


async def test_the_cookie_is_secure_over_https_and_in_production(stack: Stack) -> None:
    agent = await stack.ready_staff(await stack.admin_login())
    login = {"username": agent.email, "password": agent.password}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app, client=("198.51.100.9", 40000)),
        base_url="https://gateway.e2e",
    ) as https:
        r = await https.post("/api/v1/auth/login", json=login, headers=COOKIE_MODE)
    assert r.status_code == 200, r.text
    assert "secure" in refresh_cookie(r)

    production = stack.settings.model_copy(update={"env": "production"})
    async with running_gateway(production, ip="198.51.100.10") as (_, client):
        r = await client.post("/api/v1/auth/login", json=login, headers=COOKIE_MODE)
    assert r.status_code == 200, r.text
    assert "secure" in refresh_cookie(r)


async def test_the_openapi_documents_the_transport_header(stack: Stack) -> None:
    spec = (await stack.client.get("/openapi.json")).json()
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/password"):
        params = spec["paths"][path]["post"]["parameters"]
        header = next(p for p in params if p["name"] == "X-Token-Transport")
        assert header["in"] == "header"
        assert "mf_refresh" in header["description"]
