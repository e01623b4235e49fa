"""Access-token issuing and verification: every forgery we know of is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_service.domain.keys import SigningKey, jwks_json, published_keys
from auth_service.domain.tokens import Principal, issue_access_token
from shared.errors import Unauthenticated
from shared.identity import Role
from shared.tokens import JwksKeyCache, TokenVerifier

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ISSUER = "microfinance-auth"
AGENT = Principal("s-agent", "agent@example.org", "AGENT", "BR1", must_change_password=False)


def verifier_for(*keys: SigningKey, now: float | None = None) -> TokenVerifier:
    async def fetch() -> list[dict[str, Any]]:
        return [k.jwk() for k in keys]

    clock = (lambda: now) if now is not None else (lambda: NOW.timestamp() + 1)
    return TokenVerifier(JwksKeyCache(fetch), issuer=ISSUER, clock=clock)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate(NOW)


def issue(key: SigningKey, principal: Principal = AGENT, ttl: int = 900) -> str:
    return issue_access_token(principal, key, issuer=ISSUER, now=NOW, ttl_seconds=ttl).token


async def test_valid_token_gives_the_caller(key: SigningKey) -> None:
    caller = await verifier_for(key).verify(issue(key))
    assert caller.subject == "s-agent"
    assert caller.role is Role.AGENT
    assert caller.agent_id == "s-agent"
    assert caller.branch_id == "BR1"
    assert caller.key_id == key.kid
    assert not caller.must_change_password


async def test_must_change_password_claim_travels(key: SigningKey) -> None:
    principal = Principal("s1", "a@b.org", "ADMIN", "", must_change_password=True)
    token = issue(key, principal)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["must_change_password"] is True
    assert {"sub", "role", "jti", "iat", "exp"} <= set(claims)
    caller = await verifier_for(key).verify(token)
    assert caller.must_change_password
    assert caller.role is Role.ADMIN
    assert caller.agent_id == ""
    # Without the flag the claim is absent.
    plain = jwt.decode(issue(key), options={"verify_signature": False})
    assert "must_change_password" not in plain


async def test_forged_signature_is_refused(key: SigningKey) -> None:
    token = issue(key)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(forged)


async def test_alg_none_is_refused(key: SigningKey) -> None:
    claims = jwt.decode(issue(key), options={"verify_signature": False})
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{b64(claims)}."
    with pytest.raises(Unauthenticated, match="algorithm"):
        await verifier_for(key).verify(token)


async def test_hs256_with_public_key_as_secret_is_refused(key: SigningKey) -> None:
    claims = jwt.decode(issue(key), options={"verify_signature": False})
    token = jwt.encode(claims, key.jwk()["x"], algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(Unauthenticated, match="algorithm"):
        await verifier_for(key).verify(token)


async def test_token_from_another_key_is_refused(key: SigningKey) -> None:
    other = SigningKey.generate(NOW)
    with pytest.raises(Unauthenticated, match="unknown key"):
        await verifier_for(key).verify(issue(other))


async def test_other_key_claiming_our_kid_is_refused(key: SigningKey) -> None:
    other = SigningKey.generate(NOW)
    claims = jwt.decode(issue(key), options={"verify_signature": False})
    token = jwt.encode(claims, other.private_key(), algorithm="EdDSA", headers={"kid": key.kid})
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(token)


async def test_rs256_token_against_ed25519_key_is_refused(key: SigningKey) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(issue(key), options={"verify_signature": False})
    token = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(Unauthenticated, match="does not match"):
        await verifier_for(key).verify(token)


async def test_expired_token_is_refused(key: SigningKey) -> None:
    token = issue(key, ttl=900)
    later = NOW.timestamp() + 900 + 31
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier_for(key, now=later).verify(token)
    # Still fine just before expiry.
    await verifier_for(key, now=NOW.timestamp() + 899).verify(token)


async def test_tampered_claims_are_refused(key: SigningKey) -> None:
    token = issue(key)
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "ADMIN"
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(f"{head}.{b64(claims)}.{sig}")


async def test_wrong_issuer_is_refused(key: SigningKey) -> None:
    token = issue_access_token(AGENT, key, issuer="someone-else", now=NOW, ttl_seconds=900).token
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(token)


async def test_garbage_is_refused(key: SigningKey) -> None:
    for token in ("", "abc", "a.b.c", "eyJ.eyJ.x"):
        with pytest.raises(Unauthenticated):
            await verifier_for(key).verify(token)


async def test_revoked_token_is_refused(key: SigningKey) -> None:
    token = issue(key)
    claims = jwt.decode(token, options={"verify_signature": False})

    class Deny:
        async def get(self, k: str) -> str | None:
            return "1" if k.endswith(claims["jti"]) else None

    async def fetch() -> list[dict[str, Any]]:
        return [key.jwk()]

    verifier = TokenVerifier(
        JwksKeyCache(fetch), issuer=ISSUER, denylist=Deny(), clock=lambda: NOW.timestamp()
    )
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(token)


async def test_rotation_keeps_old_tokens_valid_until_they_expire(key: SigningKey) -> None:
    from dataclasses import replace
    from datetime import timedelta

    old = replace(key, retired_at=NOW)
    new = SigningKey.generate(NOW)
    ttl = timedelta(seconds=900)
    assert {k.kid for k in published_keys([old, new], NOW + timedelta(minutes=10), ttl)} == {
        old.kid,
        new.kid,
    }
    assert {k.kid for k in published_keys([old, new], NOW + timedelta(hours=1), ttl)} == {new.kid}
    assert json.loads(jwks_json([new]))["keys"][0]["kid"] == new.kid
    await verifier_for(old, new).verify(issue(key))


async def test_remembered_signatures_still_expire(key: SigningKey) -> None:
    now = [NOW.timestamp()]

    async def fetch() -> list[dict[str, Any]]:
        return [key.jwk()]

    verifier = TokenVerifier(JwksKeyCache(fetch), issuer=ISSUER, clock=lambda: now[0])
    token = issue(key, ttl=900)
    await verifier.verify(token)
    await verifier.verify(token)
    now[0] += 900 + 31
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)
