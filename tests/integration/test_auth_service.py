"""Auth use cases against real MongoDB and Redis, with an injected clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from auth_service.adapters.repository import INDEXES, AuthRepository
from auth_service.domain.passwords import PasswordHashing
from auth_service.service import AuthPolicy, AuthService
from shared.cache import Cache
from shared.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from shared.identity import Role
from shared.mongo import IndexRegistry
from shared.tokens import JwksKeyCache, TokenVerifier

pytestmark = pytest.mark.integration

FAST = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
PASSWORD = "initial-password-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Env:
    def __init__(self, service: AuthService, clock: Clock, hashing: PasswordHashing) -> None:
        self.service = service
        self.clock = clock
        self.hashing = hashing

    def verifier(self, cache: Cache | None = None) -> TokenVerifier:
        async def fetch() -> list[dict[str, Any]]:
            return [k.jwk() for k in await self.service.public_keys()]

        return TokenVerifier(
            JwksKeyCache(fetch),
            issuer="microfinance-auth",
            denylist=cache,
            clock=lambda: self.clock().timestamp(),
        )

    async def staff(self, role: str = "AGENT", *, must_change: bool = True) -> tuple[str, str]:
        staff_id = uuid.uuid4().hex
        username = f"u-{staff_id[:8]}@example.org"
        await self.service.create_credential(
            staff_id=staff_id,
            username=username,
            role=role,
            branch_id="BR1",
            initial_password=PASSWORD,
            must_change_password=must_change,
        )
        return staff_id, username


@pytest.fixture
async def env(
    mongo_db: AsyncDatabase[dict[str, Any]], redis_client: Redis, redis_prefix: str
) -> Env:
    await IndexRegistry(INDEXES).apply(mongo_db)
    clock = Clock()
    hashing = PasswordHashing(**FAST)
    service = AuthService(
        AuthRepository(mongo_db),
        Cache(redis_client, prefix=redis_prefix),
        hashing,
        policy=AuthPolicy(max_failures=3, failure_window_seconds=60, lockout_seconds=120),
        clock=clock,
    )
    return Env(service, clock, hashing)


async def test_login_gives_tokens_that_verify(env: Env) -> None:
    staff_id, username = await env.staff()
    pair = await env.service.login(username.upper(), PASSWORD)
    caller = await env.verifier().verify(pair.access.token)
    assert caller.subject == staff_id
    assert caller.role is Role.AGENT
    assert caller.agent_id == staff_id
    assert caller.must_change_password
    assert pair.expires_in == 900


async def test_wrong_password_and_unknown_user_look_the_same(env: Env) -> None:
    _, username = await env.staff()
    with pytest.raises(Unauthenticated) as wrong:
        await env.service.login(username, "not-the-password")
    before = env.hashing.dummy_verifications
    with pytest.raises(Unauthenticated) as unknown:
        await env.service.login("nobody@example.org", "not-the-password")
    assert str(wrong.value) == str(unknown.value)
    # The unknown user still cost a full hash verification.
    assert env.hashing.dummy_verifications == before + 1


async def test_refresh_rotates_and_reuse_revokes_the_family(env: Env) -> None:
    _, username = await env.staff()
    first = await env.service.login(username, PASSWORD)
    second = await env.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    third = await env.service.refresh(second.refresh_token)
    # The spent token comes back: the whole family dies, including the newest one.
    with pytest.raises(Unauthenticated, match="already used"):
        await env.service.refresh(first.refresh_token)
    with pytest.raises(Unauthenticated):
        await env.service.refresh(third.refresh_token)
    # Another session of the same user is unaffected.
    other = await env.service.login(username, PASSWORD)
    await env.service.refresh(other.refresh_token)


async def test_refresh_token_expires(env: Env) -> None:
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    env.clock.advance(days=15)
    with pytest.raises(Unauthenticated, match="expired"):
        await env.service.refresh(pair.refresh_token)


async def test_access_token_expires_with_the_clock(env: Env) -> None:
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    verifier = env.verifier()
    await verifier.verify(pair.access.token)
    env.clock.advance(seconds=900 + 31)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(pair.access.token)


async def test_logout_revokes_refresh_and_denylists_access(
    env: Env, redis_client: Redis, redis_prefix: str
) -> None:
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    cache = Cache(redis_client, prefix=redis_prefix)
    verifier = env.verifier(cache)
    caller = await verifier.verify(pair.access.token)
    await env.service.logout(caller, pair.refresh_token)
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(pair.access.token)
    with pytest.raises(Unauthenticated):
        await env.service.refresh(pair.refresh_token)
    ttl = await redis_client.ttl(f"{redis_prefix}mf:auth:deny:{caller.token_id}")
    assert 0 < ttl <= 900 + 60


async def test_lockout_after_repeated_failures_and_unlock(env: Env) -> None:
    staff_id, username = await env.staff()
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await env.service.login(username, "wrong-password")
    # Locked: even the right password is refused.
    with pytest.raises(ResourceExhausted):
        await env.service.login(username, PASSWORD)
    await env.service.unlock(staff_id)
    await env.service.login(username, PASSWORD)


async def test_unknown_users_get_locked_too(env: Env) -> None:
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await env.service.login("ghost@example.org", "wrong-password")
    with pytest.raises(ResourceExhausted):
        await env.service.login("ghost@example.org", "wrong-password")


async def test_a_burst_of_concurrent_guesses_gets_no_more_checks_than_the_limit(
    env: Env,
) -> None:
    _, username = await env.staff()
    attempts = [env.service.login(username, f"guess-number-{i:02d}") for i in range(9)]
    attempts.append(env.service.login(username, PASSWORD))
    results = await asyncio.gather(*attempts, return_exceptions=True)
    checked = [r for r in results if not isinstance(r, ResourceExhausted)]
    # max_failures is 3: only three attempts reach the password check at all.
    assert len(checked) <= 3
    assert sum(isinstance(r, ResourceExhausted) for r in results) >= 7
    with pytest.raises(ResourceExhausted):
        await env.service.login(username, PASSWORD)


async def test_wrong_old_passwords_count_towards_the_lockout(env: Env) -> None:
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    caller = await env.verifier().verify(pair.access.token)
    for _ in range(3):
        with pytest.raises(InvalidArgument, match="old_password"):
            await env.service.change_password(caller, "guessed-password", "brand-new-pass-1")
    with pytest.raises(ResourceExhausted):
        await env.service.change_password(caller, PASSWORD, "brand-new-pass-1")
    with pytest.raises(ResourceExhausted):
        await env.service.login(username, PASSWORD)


async def test_logout_everywhere_voids_the_other_sessions_access_tokens(
    env: Env, redis_client: Redis, redis_prefix: str
) -> None:
    _, username = await env.staff()
    mine = await env.service.login(username, PASSWORD)
    theirs = await env.service.login(username, PASSWORD)
    verifier = env.verifier(Cache(redis_client, prefix=redis_prefix))
    caller = await verifier.verify(mine.access.token)
    await verifier.verify(theirs.access.token)
    env.clock.advance(seconds=1)
    await env.service.logout(caller, all_sessions=True)
    for token in (mine.access.token, theirs.access.token):
        with pytest.raises(Unauthenticated, match="revoked"):
            await verifier.verify(token)
    with pytest.raises(Unauthenticated):
        await env.service.refresh(theirs.refresh_token)


async def test_a_revocation_during_a_refresh_also_ends_the_new_token(
    mongo_db: AsyncDatabase[dict[str, Any]], redis_client: Redis, redis_prefix: str
) -> None:
    class RevokedMeanwhile(AuthRepository):
        """Reuse is detected (by a concurrent request) after this refresh claimed its
        token and before it stored the new one."""

        async def insert_refresh(
            self, token_hash: str, family_id: str, staff_id: str, now: datetime,
            expires_at: datetime,
        ) -> None:
            if self.armed:
                self.armed = False
                await self.revoke_family(family_id, now, "reuse detected")
            await super().insert_refresh(token_hash, family_id, staff_id, now, expires_at)

        armed = False

    await IndexRegistry(INDEXES).apply(mongo_db)
    repo = RevokedMeanwhile(mongo_db)
    service = AuthService(
        repo,
        Cache(redis_client, prefix=redis_prefix),
        PasswordHashing(**FAST),
        policy=AuthPolicy(),
    )
    env = Env(service, Clock(), PasswordHashing(**FAST))
    _, username = await env.staff()
    pair = await service.login(username, PASSWORD)
    repo.armed = True
    with pytest.raises(Unauthenticated, match="revoked"):
        await service.refresh(pair.refresh_token)
    live = await mongo_db["refresh_tokens"].count_documents({"revoked_at": None})
    assert live == 0


async def test_change_password_clears_the_flag_and_ends_other_sessions(env: Env) -> None:
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    other = await env.service.login(username, PASSWORD)
    caller = await env.verifier().verify(pair.access.token)
    with pytest.raises(InvalidArgument, match="old_password"):
        await env.service.change_password(caller, "wrong-old-password", "brand-new-pass-1")
    with pytest.raises(InvalidArgument, match="new_password"):
        await env.service.change_password(caller, PASSWORD, username)
    fresh = await env.service.change_password(caller, PASSWORD, "brand-new-pass-1")
    assert not fresh.principal.must_change_password
    assert not (await env.verifier().verify(fresh.access.token)).must_change_password
    with pytest.raises(Unauthenticated):
        await env.service.refresh(other.refresh_token)
    with pytest.raises(Unauthenticated):
        await env.service.login(username, PASSWORD)
    await env.service.login(username, "brand-new-pass-1")


async def test_deactivated_staff_cannot_log_in_or_refresh(env: Env) -> None:
    staff_id, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    await env.service.update_credential(staff_id, active=False)
    with pytest.raises(Unauthenticated, match="deactivated"):
        await env.service.login(username, PASSWORD)
    with pytest.raises(Unauthenticated):
        await env.service.refresh(pair.refresh_token)
    await env.service.update_credential(staff_id, active=True)
    await env.service.login(username, PASSWORD)


async def test_rotated_keys_keep_old_tokens_valid(env: Env) -> None:
    _, username = await env.staff()
    old = await env.service.login(username, PASSWORD)
    new_key = await env.service.rotate_keys()
    new = await env.service.login(username, PASSWORD)
    verifier = env.verifier()
    assert (await verifier.verify(old.access.token)).key_id != new_key.kid
    assert (await verifier.verify(new.access.token)).key_id == new_key.kid
    # Long after the old tokens expired, the retired key is no longer published.
    env.clock.advance(hours=2)
    assert [k.kid for k in await env.service.public_keys()] == [new_key.kid]


async def test_a_rotation_is_published_by_every_replica_at_once(
    env: Env, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    """Two auth replicas, keys rotated by `microfinance rotate-keys` (a third writer).

    The replica that reloads first signs with the new key while the other's key-reload
    interval has not run out; a verifier refetching from that other replica still finds it.
    """
    _, username = await env.staff()
    await env.service.login(username, PASSWORD)  # loads replica A's key ring
    replica_b = AuthService(
        AuthRepository(mongo_db), env.service._store, env.hashing,
        policy=AuthPolicy(), clock=env.clock,
    )
    await replica_b.public_keys()
    await replica_b.keyring.active()  # B's ring is loaded, and fresh for 30 s
    cli = AuthService(
        AuthRepository(mongo_db), env.service._store, env.hashing,
        policy=AuthPolicy(), clock=env.clock,
    )
    new_key = await cli.rotate_keys()
    await env.service.keyring.keys(force=True)  # replica A's reload came round first
    token = (await env.service.login(username, PASSWORD)).access.token

    async def fetch_from_b() -> list[dict[str, Any]]:
        return [k.jwk() for k in await replica_b.public_keys()]

    verifier = TokenVerifier(
        JwksKeyCache(fetch_from_b), issuer="microfinance-auth",
        clock=lambda: env.clock().timestamp(),
    )
    assert (await verifier.verify(token)).key_id == new_key.kid


async def test_only_hashes_are_stored(env: Env, mongo_db: AsyncDatabase[dict[str, Any]]) -> None:
    """A copy of the database gives no usable refresh token and no password."""
    _, username = await env.staff()
    pair = await env.service.login(username, PASSWORD)
    rotated = await env.service.refresh(pair.refresh_token)
    stored = [str(doc) async for doc in mongo_db["refresh_tokens"].find({})]
    stored += [str(doc) async for doc in mongo_db["credentials"].find({})]
    assert len(stored) >= 3
    for secret in (pair.refresh_token, rotated.refresh_token, PASSWORD):
        assert not [doc for doc in stored if secret in doc]
    credential = await mongo_db["credentials"].find_one({"username": username.lower()})
    assert credential is not None
    assert credential["password_hash"].startswith("$argon2id$")


async def test_lockout_lifts_by_itself_when_it_expires(
    mongo_db: AsyncDatabase[dict[str, Any]], redis_client: Redis, redis_prefix: str
) -> None:
    from tests.integration.support import eventually

    await IndexRegistry(INDEXES).apply(mongo_db)
    service = AuthService(
        AuthRepository(mongo_db),
        Cache(redis_client, prefix=redis_prefix),
        PasswordHashing(**FAST),
        policy=AuthPolicy(max_failures=2, failure_window_seconds=60, lockout_seconds=1),
    )
    env = Env(service, Clock(), PasswordHashing(**FAST))
    _, username = await env.staff()
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await service.login(username, "wrong-password")
    with pytest.raises(ResourceExhausted):
        await service.login(username, PASSWORD)

    async def unlocked() -> bool:
        try:
            await service.login(username, PASSWORD)
        except ResourceExhausted:
            return False
        return True

    await eventually(unlocked, within=10, interval=0.2, what="the lockout to expire")
