"""Verification of access tokens, done by every service for itself.

Tokens are JWTs signed by the auth service with an asymmetric key. Services
only ever hold public keys, fetched as a JWKS and cached by ``kid`` so that a
key rotation is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import jwt

from shared.cache import CacheCounter
from shared.errors import Unauthenticated
from shared.identity import Caller, Role
from shared.revocation import (
    DENYLIST_PREFIX,
    REVOKED_BEFORE_PREFIX,
    REVOKED_FAMILY_PREFIX,
    RevocationView,
)

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("EdDSA", "RS256")
CLOCK_SKEW_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096

Clock = Callable[[], float]
JwksFetcher = Callable[[], Awaitable[Sequence[Mapping[str, Any]]]]


class Denylist(Protocol):
    async def get(self, key: str) -> Any: ...


class JwksKeyCache:
    """Public keys by ``kid``; refetched when stale or when an unknown kid shows up."""

    def __init__(
        self, fetch: JwksFetcher, ttl_seconds: float = 300.0, clock: Clock = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._last_miss_refresh = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            jwks = await self._fetch()
            keys: dict[str, jwt.PyJWK] = {}
            for jwk in jwks:
                try:
                    key = jwt.PyJWK(dict(jwk))
                except jwt.PyJWKError as exc:
                    log.warning("ignoring unusable JWK %s: %s", jwk.get("kid"), exc)
                    continue
                if key.key_id:
                    keys[key.key_id] = key
            self._keys = keys
            self._fetched_at = self._clock()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        now = self._clock()
        if now - self._fetched_at > self._ttl:
            await self._refresh()
        key = self._keys.get(kid)
        # An unknown kid may be a freshly rotated key; refetch, but not on every bad token.
        if key is None and now - self._last_miss_refresh > 5.0:
            self._last_miss_refresh = now
            await self._refresh()
            key = self._keys.get(kid)
        return key


class TokenVerifier:
    def __init__(
        self,
        keys: JwksKeyCache,
        *,
        issuer: str,
        denylist: Denylist | None = None,
        revocations: RevocationView | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._denylist = denylist
        # Marks pushed to this process; while it is out of sync, ``denylist`` is read.
        self.revocations = revocations
        self._clock = clock
        # Signature checks cost ~0.1 ms and a token is presented many times (gateway and
        # every service it reaches), so verified claims are remembered, bounded.
        self._verified: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()
        self._lookups = CacheCounter("verified_token")

    async def _signed_claims(self, token: str) -> tuple[dict[str, Any], str]:
        cached = self._verified.get(token)
        if cached is not None:
            self._lookups.hit()
            self._verified.move_to_end(token)
            return cached
        self._lookups.miss()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed access token") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthenticated("access token algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("access token has no key id")
        key = await self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token signed with an unknown key")
        if key.algorithm_name != alg:
            raise Unauthenticated("access token algorithm does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "sub", "jti", "iss"],
                    "verify_exp": False,  # checked below against the injectable clock
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid access token: {exc}") from exc
        self._verified[token] = (claims, kid)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims, kid

    async def start(self) -> None:
        """Start following pushed revocations (no-op without a view)."""
        if self.revocations is not None:
            await self.revocations.start()

    async def stop(self) -> None:
        if self.revocations is not None:
            await self.revocations.stop()

    async def _read_marks(self, jti: str, staff: str, family: str, issued_ms: int) -> bool:
        """The marks read from Redis: one round trip (MGET) when the store batches."""
        assert self._denylist is not None
        keys = [DENYLIST_PREFIX + jti, REVOKED_BEFORE_PREFIX + staff]
        if family:
            keys.append(REVOKED_FAMILY_PREFIX + family)
        get_many = getattr(self._denylist, "get_many", None)
        if get_many is not None:
            values = list(await get_many(*keys))
        else:
            values = [await self._denylist.get(k) for k in keys]
        denied, cutoff = values[0], values[1]
        if denied or (family and values[2]):
            return True
        return cutoff is not None and issued_ms < int(cutoff)

    async def verify(self, token: str) -> Caller:
        claims, kid = await self._signed_claims(token)
        now = self._clock()
        if int(claims["exp"]) <= now - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("access token has expired")
        if int(claims["iat"]) > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("access token is not valid yet")
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token")
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise Unauthenticated("access token has no valid role") from exc
        jti = str(claims["jti"])
        staff, family = str(claims["sub"]), str(claims.get("fam") or "")
        issued_ms = int(claims.get("iat_ms") or int(claims["iat"]) * 1000)
        revoked = None
        if self.revocations is not None:
            revoked = self.revocations.revoked(jti, staff, family, issued_ms)
        if revoked is None and self._denylist is not None:
            revoked = await self._read_marks(jti, staff, family, issued_ms)
        if revoked:
            raise Unauthenticated("access token has been revoked")
        return Caller(
            subject=str(claims["sub"]),
            role=role,
            token_id=jti,
            agent_id=str(claims.get("agent_id") or ""),
            branch_id=str(claims.get("branch_id") or ""),
            must_change_password=bool(claims.get("must_change_password", False)),
            expires_at=int(claims["exp"]),
            issued_at=int(claims["iat"]),
            key_id=kid,
            token=token,
        )


def jwks_from_json(text: str) -> list[Mapping[str, Any]]:
    data = json.loads(text)
    keys = data.get("keys", []) if isinstance(data, dict) else data
    return [k for k in keys if isinstance(k, dict)]
