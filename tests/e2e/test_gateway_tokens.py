"""Bad tokens are refused at the edge with 401 and WWW-Authenticate, before any service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.adapters.repository import AuthRepository
from auth_service.domain.keys import SigningKey
from tests.e2e.conftest import Login, Stack, bearer

pytestmark = pytest.mark.e2e


async def signing_key(stack: Stack) -> SigningKey:
    keys = await AuthRepository(stack.infra["auth"].db).list_keys()
    return next(k for k in reversed(keys) if k.retired_at is None)


def claims_for(login: Login, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "microfinance-auth",
        "sub": login.staff_id,
        "role": "ADMIN",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def assert_refused(stack: Stack, token: str, expected_message: str = "") -> None:
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/staff")):
        r = await stack.client.request(method, path, headers=bearer(token))
        assert r.status_code == 401, (path, r.text)
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        error = r.json()["error"]
        assert error["code"] == "UNAUTHENTICATED"
        assert expected_message in error["message"]


async def test_a_token_signed_by_the_real_key_is_accepted(stack: Stack, admin: Login) -> None:
    # The control case: our hand-made tokens differ from real ones only where each test says.
    key = await signing_key(stack)
    token = jwt.encode(
        claims_for(admin), key.private_key(), algorithm="EdDSA", headers={"kid": key.kid}
    )
    r = await stack.client.get("/api/v1/staff", headers=bearer(token))
    assert r.status_code == 200, r.text


async def test_missing_or_malformed_authorization(stack: Stack) -> None:
    c = stack.client
    r = await c.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="microfinance"'
    assert r.json()["error"]["message"] == "a bearer token is required"
    r = await c.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401
    r = await c.get("/api/v1/me", headers={"Authorization": "Bearer"})
    assert r.status_code == 401
    await assert_refused(stack, "not-a-jwt", "malformed")


async def test_alg_none_is_refused(stack: Stack, admin: Login) -> None:
    key = await signing_key(stack)
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims_for(admin)).encode())
    await assert_refused(stack, f"{header}.{payload}.", "algorithm")


async def test_hs256_with_the_public_key_as_secret_is_refused(stack: Stack, admin: Login) -> None:
    # The classic confusion attack: HMAC "signed" with the published public key.
    key = await signing_key(stack)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims_for(admin)).encode())
    secret = key.jwk()["x"].encode()
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    await assert_refused(stack, f"{header}.{payload}.{b64(mac)}", "algorithm")


async def test_forged_signature_with_the_real_kid_is_refused(stack: Stack, admin: Login) -> None:
    key = await signing_key(stack)
    forger = Ed25519PrivateKey.generate()
    token = jwt.encode(claims_for(admin), forger, algorithm="EdDSA", headers={"kid": key.kid})
    await assert_refused(stack, token, "invalid access token")


async def test_unknown_key_is_refused(stack: Stack, admin: Login) -> None:
    token = jwt.encode(
        claims_for(admin),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "not-a-published-kid"},
    )
    await assert_refused(stack, token, "unknown key")


async def test_expired_token_is_refused(stack: Stack, admin: Login) -> None:
    key = await signing_key(stack)
    now = int(time.time())
    claims = claims_for(admin, iat=now - 3600, exp=now - 1800)
    token = jwt.encode(claims, key.private_key(), algorithm="EdDSA", headers={"kid": key.kid})
    await assert_refused(stack, token, "expired")


async def test_tampered_claims_are_refused(stack: Stack, admin: Login) -> None:
    agent = await stack.ready_staff(admin)
    header, payload, signature = agent.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["role"] == "AGENT"
    claims["role"] = "ADMIN"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    await assert_refused(stack, forged, "invalid access token")
    # The untouched token still works where an agent may go.
    r = await stack.client.get("/api/v1/me", headers=agent.headers)
    assert r.status_code == 200


async def test_wrong_issuer_and_non_access_tokens_are_refused(stack: Stack, admin: Login) -> None:
    key = await signing_key(stack)
    pk, hdr = key.private_key(), {"kid": key.kid}
    wrong_issuer = jwt.encode(claims_for(admin, iss="someone-else"), pk, "EdDSA", headers=hdr)
    await assert_refused(stack, wrong_issuer, "invalid access token")
    not_access = jwt.encode(claims_for(admin, typ="refresh"), pk, "EdDSA", headers=hdr)
    await assert_refused(stack, not_access, "not an access token")


async def test_every_api_route_but_login_and_refresh_needs_a_token(stack: Stack) -> None:
    """Walks the app's own OpenAPI paths, so a route added later cannot skip the check."""
    import re

    public = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}
    checked = 0
    for template, operations in stack.app.openapi()["paths"].items():
        if not template.startswith("/api/v1"):
            continue
        path = re.sub(r"\{[^}]+\}", "x1", template)
        for method in sorted(m.upper() for m in operations):
            if (method, template) in public:
                continue
            r = await stack.client.request(method, path, json={})
            assert r.status_code == 401, (method, template, r.status_code, r.text)
            checked += 1
    assert checked > 20
