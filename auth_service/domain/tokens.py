"""Access tokens (JWT) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

from auth_service.domain.keys import ALGORITHM, SigningKey


@dataclass(frozen=True, slots=True)
class Principal:
    """What a token says about its holder; copied from the staff record."""

    staff_id: str
    username: str
    role: str
    branch_id: str
    must_change_password: bool

    @property
    def agent_id(self) -> str:
        return self.staff_id if self.role == "AGENT" else ""


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_at: int


def issue_access_token(
    principal: Principal,
    key: SigningKey,
    *,
    issuer: str,
    now: datetime,
    ttl_seconds: int,
    family_id: str = "",
) -> IssuedAccessToken:
    iat = int(now.timestamp())
    exp = iat + ttl_seconds
    jti = uuid.uuid4().hex
    claims: dict[str, object] = {
        "iss": issuer,
        "sub": principal.staff_id,
        "role": principal.role,
        "jti": jti,
        "iat": iat,
        # iat has whole seconds; revocation cut-offs need finer time.
        "iat_ms": int(now.timestamp() * 1000),
        "exp": exp,
        "typ": "access",
    }
    if principal.agent_id:
        claims["agent_id"] = principal.agent_id
    if principal.branch_id:
        claims["branch_id"] = principal.branch_id
    if principal.must_change_password:
        claims["must_change_password"] = True
    if family_id:
        # The login session (refresh-token family): ending it voids this token too.
        claims["fam"] = family_id
    token = jwt.encode(claims, key.private_key(), algorithm=ALGORITHM, headers={"kid": key.kid})
    return IssuedAccessToken(token=token, jti=jti, expires_at=exp)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # The token is 256 random bits, so a fast hash is enough; argon2 would only cost time.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
