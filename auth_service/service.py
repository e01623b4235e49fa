"""Auth use cases: login, refresh rotation, logout, password changes, keys."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from auth_service.adapters.repository import AuthRepository, Credential
from auth_service.domain.keys import SigningKey, published_keys
from auth_service.domain.passwords import PasswordHashing, check_policy
from auth_service.domain.tokens import (
    IssuedAccessToken,
    Principal,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from shared.clock import utcnow
from shared.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)
from shared.identity import Caller, Role
from shared.records import record_of
from shared.revocation import (
    DENYLIST_PREFIX,
    REVOKED_BEFORE_PREFIX,
    REVOKED_FAMILY_PREFIX,
    publish_mark,
)

log = logging.getLogger(__name__)

FAIL_PREFIX = "mf:auth:fail:"
LOCK_PREFIX = "mf:auth:lock:"
BAD_LOGIN = "invalid username or password"
LOCKED_MESSAGE = "too many failed logins; the account is locked for a while, try again later"


class KeyValueStore(Protocol):
    """The slice of the Redis cache auth needs; it fails open (None / no-op)."""

    async def get(self, key: str) -> Any: ...

    async def set(self, key: str, value: str, ttl: int | None = None) -> Any: ...

    async def delete(self, key: str) -> Any: ...

    async def incr_with_ttl(self, key: str, ttl: int) -> int | None: ...

    async def set_and_publish(
        self, key: str, value: str, ttl: int, channel: str, message: str
    ) -> bool: ...


class EventSink(Protocol):
    async def emit(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Any: ...


SERVICE_NAMES = frozenset({"auth", "user", "loan", "payment", "reporting"})


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    issuer: str = "microfinance-auth"
    access_ttl_seconds: int = 900
    service_ttl_seconds: int = 300
    # None: no service may obtain a SERVICE token.
    service_secret: str | None = field(default=None, repr=False)
    refresh_ttl_seconds: int = 14 * 24 * 3600
    max_failures: int = 5
    failure_window_seconds: int = 900
    lockout_seconds: int = 900


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: IssuedAccessToken
    refresh_token: str
    expires_in: int
    principal: Principal


def normalize_username(username: str) -> str:
    return username.strip().casefold()


def _principal(cred: Credential) -> Principal:
    return record_of(Principal, cred)


class KeyRing:
    """Signing keys, reloaded from Mongo now and then so a CLI rotation is seen."""

    def __init__(
        self, repo: AuthRepository, clock: Callable[[], datetime], reload_seconds: int = 30
    ):
        self._repo = repo
        self._clock = clock
        self._reload = timedelta(seconds=reload_seconds)
        self._keys: list[SigningKey] = []
        self._loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def keys(self, *, force: bool = False) -> list[SigningKey]:
        now = self._clock()
        if force or self._loaded_at is None or now - self._loaded_at > self._reload:
            async with self._lock:
                keys = await self._repo.list_keys()
                if not keys:
                    key = SigningKey.generate(now)
                    await self._repo.add_key(key)
                    keys = await self._repo.list_keys()
                self._keys = keys
                self._loaded_at = now
        return self._keys

    async def active(self) -> SigningKey:
        live = [k for k in await self.keys() if k.retired_at is None]
        if not live:
            live = [k for k in await self.keys(force=True) if k.retired_at is None]
        if not live:
            raise FailedPrecondition("no active signing key")
        return live[-1]

    async def rotate(self) -> SigningKey:
        now = self._clock()
        key = SigningKey.generate(now)
        await self._repo.add_key(key)
        await self._repo.retire_keys_except(key.kid, now)
        await self.keys(force=True)
        return key


class AuthService:
    def __init__(
        self,
        repo: AuthRepository,
        store: KeyValueStore,
        hashing: PasswordHashing,
        *,
        policy: AuthPolicy,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._store = store
        self._hashing = hashing
        self._policy = policy
        self._events = events
        self._clock = clock
        self.keyring = KeyRing(repo, clock)

    # --- tokens -------------------------------------------------------------
    async def _issue(self, cred: Credential, family_id: str | None = None) -> TokenPair:
        now = self._clock()
        principal = _principal(cred)
        family_id = family_id or uuid.uuid4().hex
        access = issue_access_token(
            principal,
            await self.keyring.active(),
            issuer=self._policy.issuer,
            now=now,
            ttl_seconds=self._policy.access_ttl_seconds,
            family_id=family_id,
        )
        refresh = new_refresh_token()
        await self._repo.insert_refresh(
            hash_refresh_token(refresh),
            family_id,
            cred.staff_id,
            now,
            now + timedelta(seconds=self._policy.refresh_ttl_seconds),
        )
        return TokenPair(access, refresh, self._policy.access_ttl_seconds, principal)

    async def _emit(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> None:
        if self._events is not None:
            try:
                await self._events.emit(event_type, aggregate_id, payload)
            except Exception:
                log.exception("could not record %s event", event_type)

    # --- login and lockout --------------------------------------------------
    async def _check_lock(self, username: str) -> None:
        """Refuse while the account is locked, saying for how long (Retry-After)."""
        value = await self._store.get(LOCK_PREFIX + username)
        if not value:
            return
        remaining = self._policy.lockout_seconds
        try:
            # The lock holds the Unix time it ends (older locks hold "1").
            until = float(value)
        except ValueError:
            until = 0.0
        if until > 1:
            remaining = max(1, math.ceil(until - self._clock().timestamp()))
        raise ResourceExhausted(LOCKED_MESSAGE, retry_after_seconds=remaining)

    async def _count_attempt(self, username: str) -> int | None:
        """Count a password check before it runs, so a burst of concurrent guesses
        cannot all pass the lock check; a success clears the count."""
        count = await self._store.incr_with_ttl(
            FAIL_PREFIX + username, self._policy.failure_window_seconds
        )
        if count is not None and count > self._policy.max_failures:
            await self._lock(username)
            raise ResourceExhausted(
                LOCKED_MESSAGE, retry_after_seconds=self._policy.lockout_seconds
            )
        return count

    async def _record_failure(self, username: str, client_ip: str, count: int | None) -> None:
        await self._emit(
            "auth.login_failed", username, {"username": username, "client_ip": client_ip}
        )
        if count is not None and count >= self._policy.max_failures:
            await self._lock(username)

    async def _lock(self, username: str) -> None:
        until = self._clock().timestamp() + self._policy.lockout_seconds
        await self._store.set(
            LOCK_PREFIX + username, f"{until:.3f}", ttl=self._policy.lockout_seconds
        )
        # The count is held above the limit for the lockout, not deleted: guesses of the
        # same burst already past the lock check would otherwise start a new count and
        # reach the password check.
        await self._store.set(
            FAIL_PREFIX + username,
            str(self._policy.max_failures + 1),
            ttl=self._policy.lockout_seconds,
        )
        await self._emit(
            "auth.locked_out",
            username,
            {"username": username, "lockout_seconds": self._policy.lockout_seconds},
        )

    async def login(
        self, username: str, password: str, *, client_ip: str = "", user_agent: str = ""
    ) -> TokenPair:
        if not username.strip():
            raise InvalidArgument.field("username", "is required")
        if not password:
            raise InvalidArgument.field("password", "is required")
        name = normalize_username(username)
        await self._check_lock(name)
        attempt = await self._count_attempt(name)
        cred = await self._repo.get_by_username(name)
        if cred is None:
            # Same work as a real check, so response time does not reveal who exists.
            await asyncio.to_thread(self._hashing.verify_dummy, password)
            await self._record_failure(name, client_ip, attempt)
            raise Unauthenticated(BAD_LOGIN)
        ok = await asyncio.to_thread(self._hashing.verify, cred.password_hash, password)
        if not ok:
            await self._record_failure(name, client_ip, attempt)
            raise Unauthenticated(BAD_LOGIN)
        if not cred.active:
            raise Unauthenticated("this account is deactivated")
        await self._store.delete(FAIL_PREFIX + name)
        seen: dict[str, Any] = {
            "last_login_at": self._clock(),
            "last_login_ip": client_ip[:64],
            "last_login_user_agent": user_agent[:256],
        }
        if self._hashing.needs_rehash(cred.password_hash):
            seen["password_hash"] = await asyncio.to_thread(self._hashing.hash, password)
        await self._repo.update_credential(cred.staff_id, seen, self._clock())
        return await self._issue(cred)

    async def refresh(self, refresh_token: str) -> TokenPair:
        if not refresh_token:
            raise InvalidArgument.field("refresh_token", "is required")
        now = self._clock()
        token_hash = hash_refresh_token(refresh_token)
        record = await self._repo.claim_refresh(token_hash, now)
        if record is None:
            existing = await self._repo.get_refresh(token_hash)
            if existing is None:
                raise Unauthenticated("invalid refresh token")
            if existing.used_at is not None and existing.revoked_at is None:
                # A rotated token came back: someone holds a copy. End the whole family.
                await self._revoke_family(existing.family_id, now, "reuse detected")
                await self._emit(
                    "auth.refresh_reuse_detected",
                    existing.staff_id,
                    {"staff_id": existing.staff_id, "family_id": existing.family_id},
                )
                raise Unauthenticated("refresh token was already used; the session is revoked")
            raise Unauthenticated("refresh token has been revoked")
        if _aware(record.expires_at) <= now:
            raise Unauthenticated("refresh token has expired")
        cred = await self._repo.get_by_id(record.staff_id)
        if cred is None or not cred.active:
            await self._revoke_family(record.family_id, now, "account inactive")
            raise Unauthenticated("this account is deactivated")
        pair = await self._issue(cred, record.family_id)
        # A revocation (reuse detected, logout, password change, deactivation) that ran
        # while this refresh was in flight marked the parent but could not see the new
        # token: look again now that it is stored, and end the family if so.
        parent = await self._repo.get_refresh(token_hash)
        if parent is None or parent.revoked_at is not None:
            await self._revoke_family(record.family_id, now, "revoked during refresh")
            raise Unauthenticated("refresh token has been revoked")
        return pair

    async def logout(
        self, caller: Caller, refresh_token: str = "", *, all_sessions: bool = False
    ) -> None:
        now = self._clock()
        if all_sessions:
            await self._repo.revoke_staff_tokens(caller.subject, now, "logout everywhere")
            # Access tokens of the other sessions too, not only the caller's.
            await self.revoke_access_tokens(caller.subject)
        elif refresh_token:
            record = await self._repo.get_refresh(hash_refresh_token(refresh_token))
            if record is not None and record.staff_id == caller.subject:
                await self._revoke_family(record.family_id, now, "logout")
        await self.denylist(caller)

    async def _revoke_family(self, family_id: str, now: datetime, reason: str) -> None:
        """End a login session: its refresh tokens and the access tokens issued to it.

        The access-token mark goes first, so a token is never left usable after the
        refresh tokens are seen revoked."""
        await publish_mark(
            self._store, REVOKED_FAMILY_PREFIX + family_id, reason,
            ttl=self._policy.access_ttl_seconds + 60,
        )
        await self._repo.revoke_family(family_id, now, reason)

    async def revoke_access_tokens(self, staff_id: str) -> None:
        """Void every access token issued to ``staff_id`` up to now."""
        now_ms = int(self._clock().timestamp() * 1000)
        await publish_mark(
            self._store, REVOKED_BEFORE_PREFIX + staff_id, str(now_ms),
            ttl=self._policy.access_ttl_seconds + 60,
        )

    async def denylist(self, caller: Caller) -> None:
        remaining = caller.expires_at - int(self._clock().timestamp())
        if caller.token_id and remaining > 0:
            await publish_mark(
                self._store, DENYLIST_PREFIX + caller.token_id, "1", ttl=remaining + 60
            )

    # --- passwords ----------------------------------------------------------
    async def change_password(self, caller: Caller, old: str, new: str) -> TokenPair:
        cred = await self._repo.get_by_id(caller.subject)
        if cred is None or not cred.active:
            raise Unauthenticated("this account is deactivated")
        # Wrong old passwords count towards the same lockout as logins: a stolen
        # session must not become an unlimited password oracle.
        await self._check_lock(cred.username)
        attempt = await self._count_attempt(cred.username)
        if not await asyncio.to_thread(self._hashing.verify, cred.password_hash, old):
            await self._record_failure(cred.username, "", attempt)
            raise InvalidArgument.field("old_password", "is incorrect")
        await self._store.delete(FAIL_PREFIX + cred.username)
        check_policy(new, cred.username, field="new_password")
        if new == old:
            raise InvalidArgument.field("new_password", "must differ from the old password")
        now = self._clock()
        new_hash = await asyncio.to_thread(self._hashing.hash, new)
        await self._repo.update_credential(
            cred.staff_id,
            {"password_hash": new_hash, "must_change_password": False, "password_changed_at": now},
            now,
        )
        # Other sessions were opened with the old password; end them.
        await self._repo.revoke_staff_tokens(cred.staff_id, now, "password changed")
        await self.revoke_access_tokens(cred.staff_id)
        await self.denylist(caller)
        updated = await self._repo.get_by_id(cred.staff_id)
        assert updated is not None
        return await self._issue(updated)

    # --- credentials, managed by user_service on behalf of an admin ---------
    async def create_credential(
        self,
        *,
        staff_id: str,
        username: str,
        role: str,
        branch_id: str,
        initial_password: str,
        must_change_password: bool = True,
    ) -> Credential:
        if not staff_id:
            raise InvalidArgument.field("staff_id", "is required")
        name = normalize_username(username)
        if not name:
            raise InvalidArgument.field("username", "is required")
        if role not in (Role.ADMIN.value, Role.AGENT.value):
            raise InvalidArgument.field("role", "must be ADMIN or AGENT")
        check_policy(initial_password, name, field="initial_password")
        cred = Credential(
            staff_id=staff_id,
            username=name,
            password_hash=await asyncio.to_thread(self._hashing.hash, initial_password),
            role=role,
            branch_id=branch_id,
            active=True,
            must_change_password=must_change_password,
        )
        existing = await self._repo.get_by_id(staff_id)
        if existing is not None and existing.username == name:
            return existing  # a retried create from user_service
        await self._repo.insert_credential(cred, self._clock())
        return cred

    async def update_credential(
        self,
        staff_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        branch_id: str | None = None,
        active: bool | None = None,
    ) -> Credential:
        cred = await self._repo.get_by_id(staff_id)
        if cred is None:
            raise NotFound(f"no credential for staff {staff_id}")
        changes: dict[str, Any] = {}
        if username is not None:
            changes["username"] = normalize_username(username)
        if role is not None:
            if role not in (Role.ADMIN.value, Role.AGENT.value):
                raise InvalidArgument.field("role", "must be ADMIN or AGENT")
            changes["role"] = role
        if branch_id is not None:
            changes["branch_id"] = branch_id
        if active is not None:
            changes["active"] = active
        now = self._clock()
        if changes:
            await self._repo.update_credential(staff_id, changes, now)
        if active is False or role is not None:
            await self._repo.revoke_staff_tokens(staff_id, now, "account changed")
            await self.revoke_access_tokens(staff_id)
        updated = await self._repo.get_by_id(staff_id)
        assert updated is not None
        return updated

    async def reset_password(self, caller: Caller, staff_id: str, new_password: str) -> Credential:
        # A reset needs no old password: on one's own account it would let a stolen
        # access token take the account over for good. Own passwords go through change.
        if staff_id == caller.subject:
            raise FailedPrecondition(
                "you cannot reset your own password; change it with your current one"
            )
        cred = await self._repo.get_by_id(staff_id)
        if cred is None:
            raise NotFound(f"no credential for staff {staff_id}")
        check_policy(new_password, cred.username, field="temporary_password")
        now = self._clock()
        await self._repo.update_credential(
            staff_id,
            {
                "password_hash": await asyncio.to_thread(self._hashing.hash, new_password),
                "must_change_password": True,
                "password_changed_at": now,
            },
            now,
        )
        await self._repo.revoke_staff_tokens(staff_id, now, "password reset")
        await self.revoke_access_tokens(staff_id)
        await self._store.delete(LOCK_PREFIX + cred.username)
        updated = await self._repo.get_by_id(staff_id)
        assert updated is not None
        return updated

    async def unlock(self, staff_id: str) -> Credential:
        cred = await self._repo.get_by_id(staff_id)
        if cred is None:
            raise NotFound(f"no credential for staff {staff_id}")
        await self._store.delete(LOCK_PREFIX + cred.username)
        await self._store.delete(FAIL_PREFIX + cred.username)
        return cred

    # --- services acting for themselves -------------------------------------
    async def issue_service_token(self, service: str, secret: str) -> IssuedAccessToken:
        if service not in SERVICE_NAMES:
            raise InvalidArgument.field(
                "service", f"must be one of {', '.join(sorted(SERVICE_NAMES))}"
            )
        expected = self._policy.service_secret
        if not expected:
            raise FailedPrecondition("service tokens are not enabled (no service secret is set)")
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            await self._emit("auth.service_token_refused", service, {"service": service})
            raise Unauthenticated("invalid service secret")
        principal = Principal(
            staff_id=f"service:{service}",
            username="",
            role=Role.SERVICE.value,
            branch_id="",
            must_change_password=False,
        )
        return issue_access_token(
            principal,
            await self.keyring.active(),
            issuer=self._policy.issuer,
            now=self._clock(),
            ttl_seconds=self._policy.service_ttl_seconds,
        )

    # --- keys ---------------------------------------------------------------
    async def public_keys(self) -> list[SigningKey]:
        # Read from MongoDB every time, not the key-reload cache: with several replicas, a
        # verifier that meets a freshly rotated kid refetches from whichever replica its
        # channel picks, and that one must publish a key another replica already signs
        # with. Rare calls (each process every MF_PUBLIC_KEY_CACHE_SECONDS, or on an
        # unknown kid), one small find.
        keys = await self.keyring.keys(force=True)
        return published_keys(
            keys, self._clock(), timedelta(seconds=self._policy.access_ttl_seconds)
        )

    async def rotate_keys(self) -> SigningKey:
        return await self.keyring.rotate()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
