"""Revocations pushed to verifiers (shared/revocation.py) against the real Redis.

The auth service writes each mark and publishes it; a verifier whose view is in sync refuses
the token without a Redis command, one that is not falls back to the per-request MGET, and a
view that lost its connection loads the stored marks again when it resubscribes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from auth_service.adapters.repository import INDEXES, AuthRepository
from auth_service.domain.passwords import PasswordHashing
from auth_service.service import AuthPolicy, AuthService, TokenPair
from shared.cache import Cache
from shared.errors import Unauthenticated
from shared.identity import Caller
from shared.mongo import IndexRegistry
from shared.revocation import DENYLIST_PREFIX, RevocationView
from shared.tokens import JwksKeyCache, TokenVerifier
from tests.integration.support import TcpProxy, eventually

pytestmark = pytest.mark.integration

PASSWORD = "initial-password-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class CountingRedis(Redis):
    """Counts the commands sent outside pipelines and pub/sub: MGET, GET, SCAN..."""

    commands: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(str(args[0]).upper())
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


def counting_client(url: str) -> CountingRedis:
    client = CountingRedis.from_url(url, decode_responses=True, socket_timeout=0.5,
                                    socket_connect_timeout=0.5)
    assert isinstance(client, CountingRedis)
    client.commands = []
    return client


@dataclass
class Env:
    service: AuthService
    clock: Clock
    redis_url: str
    prefix: str

    def verifier(
        self, client: Redis, *, view: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> TokenVerifier:
        async def fetch() -> list[dict[str, Any]]:
            return [k.jwk() for k in await self.service.public_keys()]

        cache = Cache(client, prefix=self.prefix, breaker_seconds=0.1)
        return TokenVerifier(
            JwksKeyCache(fetch),
            issuer="microfinance-auth",
            denylist=cache,
            revocations=RevocationView(cache, heartbeat_seconds=0.05, max_staleness_seconds=1.0,
                                       retry_seconds=0.05, clock=clock) if view else None,
            clock=lambda: self.clock().timestamp(),
        )

    async def login(self) -> tuple[str, TokenPair]:
        staff_id = uuid.uuid4().hex
        username = f"u-{staff_id[:8]}@example.org"
        await self.service.create_credential(
            staff_id=staff_id, username=username, role="AGENT", branch_id="BR1",
            initial_password=PASSWORD, must_change_password=False,
        )
        return username, await self.service.login(username, PASSWORD)


@pytest.fixture
async def env(
    mongo_db: AsyncDatabase[dict[str, Any]], redis_client: Redis, redis_url: str,
    redis_prefix: str,
) -> Env:
    await IndexRegistry(INDEXES).apply(mongo_db)
    clock = Clock()
    service = AuthService(
        AuthRepository(mongo_db),
        Cache(redis_client, prefix=redis_prefix),
        PasswordHashing(time_cost=1, memory_cost=8, parallelism=1),
        policy=AuthPolicy(),
        clock=clock,
    )
    return Env(service, clock, redis_url, redis_prefix)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[CountingRedis]:
    client = counting_client(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def refused(verifier: TokenVerifier, token: str) -> bool:
    try:
        await verifier.verify(token)
    except Unauthenticated as exc:
        if "revoked" not in str(exc):
            raise
        return True
    return False


async def started(verifier: TokenVerifier) -> RevocationView:
    view = verifier.revocations
    assert view is not None
    await verifier.start()
    await eventually(lambda: view.synced, within=10, what="revocation view in sync")
    return view


async def test_pushed_marks_refuse_tokens_without_a_redis_read(
    env: Env, client: CountingRedis
) -> None:
    verifier = env.verifier(client)
    await started(verifier)
    try:
        username, first = await env.login()
        second = await env.service.login(username, PASSWORD)
        other_user, third = await env.login()
        callers: list[Caller] = []
        client.commands.clear()
        for pair in (first, second, third):
            callers.append(await verifier.verify(pair.access.token))
        assert client.commands == []

        # Logout with the second session's refresh token: the first access token's jti is
        # denied, the second session's family ended.
        await env.service.logout(callers[0], second.refresh_token)
        await eventually(lambda: refused(verifier, first.access.token), what="jti refused")
        await eventually(lambda: refused(verifier, second.access.token), what="family refused")
        # Every token of the third person issued until now (revoked-before).
        env.clock.now += timedelta(seconds=1)
        await env.service.revoke_access_tokens(callers[2].subject)
        await eventually(lambda: refused(verifier, third.access.token), what="cutoff refused")
        fresh = await env.service.login(other_user, PASSWORD)
        await verifier.verify(fresh.access.token)
        assert client.commands == [], "verification read Redis while in sync"
    finally:
        await verifier.stop()


async def test_marks_stored_before_the_view_started_are_loaded(
    env: Env, client: CountingRedis
) -> None:
    _, pair = await env.login()
    caller = await env.verifier(client, view=False).verify(pair.access.token)
    await env.service.denylist(caller)
    verifier = env.verifier(client)
    await started(verifier)
    try:
        client.commands.clear()
        assert await refused(verifier, pair.access.token)
        assert client.commands == []
    finally:
        await verifier.stop()


async def test_out_of_sync_verification_reads_the_marks_from_redis(
    env: Env, client: CountingRedis
) -> None:
    _, pair = await env.login()
    verifier = env.verifier(client)  # its view is never started: never in sync
    caller = await verifier.verify(pair.access.token)
    assert client.commands == ["MGET"]
    await env.service.denylist(caller)
    assert await refused(verifier, pair.access.token)
    assert client.commands == ["MGET", "MGET"]


async def test_a_view_unanswered_for_longer_than_its_staleness_bound_is_not_trusted(
    env: Env, client: CountingRedis
) -> None:
    offset = [0.0]
    verifier = env.verifier(client, clock=lambda: time.monotonic() + offset[0])
    try:
        view = await started(verifier)
        _, pair = await env.login()
        await verifier.verify(pair.access.token)
        client.commands.clear()
        # As if no ping had been answered for 5 s (a silent connection): per-request reads.
        offset[0] = 5.0
        assert not view.synced
        await verifier.verify(pair.access.token)
        assert client.commands == ["MGET"]
        # The view notices too, and subscribes again.
        await eventually(lambda: view.syncs >= 2 and view.synced, within=10, what="resync")
    finally:
        await verifier.stop()


async def test_a_view_resyncs_after_losing_its_connection(
    env: Env, redis_client: Redis
) -> None:
    target = urlparse(env.redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    client = counting_client(proxy.url("redis://", target.path or "/"))
    verifier = env.verifier(client)
    try:
        view = await started(verifier)
        _, pair = await env.login()
        caller = await verifier.verify(pair.access.token)
        await proxy.cut()
        await eventually(lambda: not view.synced, within=5, what="view out of sync")
        # Stored, but the push never reaches this view: only the reload can bring it.
        await redis_client.set(f"{env.prefix}{DENYLIST_PREFIX}{caller.token_id}", "1", ex=960)
        # Redis is unreachable: as before, the per-request check fails open.
        await verifier.verify(pair.access.token)
        await proxy.restore()
        await eventually(lambda: view.syncs >= 2 and view.synced, within=10, what="resync")
        client.commands.clear()
        assert await refused(verifier, pair.access.token)
        assert client.commands == []
    finally:
        await verifier.stop()
        await client.aclose()
        await proxy.close()


async def test_the_view_refuses_nothing_when_redis_was_never_reachable(env: Env) -> None:
    client = counting_client("redis://127.0.0.1:1/0")
    verifier = env.verifier(client)
    await verifier.start()
    try:
        _, pair = await env.login()
        await verifier.verify(pair.access.token)  # fails open, as the MGET path always did
        assert verifier.revocations is not None
        assert not verifier.revocations.synced
    finally:
        await verifier.stop()
        await client.aclose()
