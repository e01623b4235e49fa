"""Revocation marks pushed to every verifier, so checking a token reads nothing from Redis.

The auth service writes each mark (a revoked ``jti``, a staff member's revoked-before time,
an ended refresh family) as a Redis key with a TTL, which stays the source of truth, and in
the same MULTI publishes it on ``REVOCATION_CHANNEL`` (under the configured key prefix).

Each process keeps a ``RevocationView``: it subscribes, then loads the marks already stored
(SCAN over the three prefixes: marks live only as long as access tokens, so there are few),
then applies what is pushed. Every ``heartbeat_seconds`` it PINGs on the subscription; Redis
answers in order, so the answer to a ping sent at time T proves that every mark published
before T has been applied. The view answers only while that T is at most
``max_staleness_seconds`` old; otherwise (starting, Redis down, connection lost or silent)
``revoked`` returns None and the verifier reads the marks from Redis as before. So a
revocation takes effect within the pub/sub delivery time in steady state, and never later
than ``max_staleness_seconds`` plus that delivery time.

Local entries expire with the TTLs of their keys, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import RedisError

from shared.background import BackgroundLoop

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from shared.cache import Cache

log = logging.getLogger(__name__)

DENYLIST_PREFIX = "mf:auth:deny:"
# Tokens of a staff member issued up to this Unix time (ms) are void (deactivation,
# password or role change), so an access token does not outlive the account.
REVOKED_BEFORE_PREFIX = "mf:auth:revoked-before:"
# A refresh-token family (one login session) that was ended: reuse detected, logout or
# deactivation. Access tokens carry their family in ``fam``, so ending the family voids
# the access tokens issued to it, not only its refresh tokens.
REVOKED_FAMILY_PREFIX = "mf:auth:revoked-family:"
MARK_PREFIXES = (DENYLIST_PREFIX, REVOKED_BEFORE_PREFIX, REVOKED_FAMILY_PREFIX)
REVOCATION_CHANNEL = "mf:auth:revocations"
# A key without a TTL should not exist (every mark is written with one); keep it this long.
NO_TTL_SECONDS = 24 * 3600
_PING_PREFIX = "mf-revocation:"
# A malformed push (ValueError, KeyError, TypeError) is met like a lost connection: resync.
_FAILURES = (RedisError, OSError, TimeoutError, ValueError, KeyError, TypeError)

Clock = Callable[[], float]


class MarkPublisher(Protocol):
    async def set_and_publish(
        self, key: str, value: str, ttl: int, channel: str, message: str
    ) -> bool: ...


async def publish_mark(store: MarkPublisher, key: str, value: str, ttl: int) -> bool:
    """Store a revocation mark and push it to every view, atomically (one MULTI)."""
    message = json.dumps({"key": key, "value": value, "ttl": int(ttl)}, separators=(",", ":"))
    return await store.set_and_publish(key, value, int(ttl), REVOCATION_CHANNEL, message)


class Marks:
    """The revocation marks one process knows, each with a monotonic deadline."""

    def __init__(self) -> None:
        self.denied: dict[str, float] = {}
        self.families: dict[str, float] = {}
        self.before: dict[str, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self.denied) + len(self.families) + len(self.before)

    def apply(self, key: str, value: str | None, ttl_seconds: float, now: float) -> None:
        """Record the mark stored under ``key`` (without the cache prefix)."""
        if value is None or ttl_seconds <= 0:
            return
        deadline = now + ttl_seconds
        if key.startswith(DENYLIST_PREFIX):
            jti = key[len(DENYLIST_PREFIX):]
            self.denied[jti] = max(deadline, self.denied.get(jti, deadline))
        elif key.startswith(REVOKED_FAMILY_PREFIX):
            family = key[len(REVOKED_FAMILY_PREFIX):]
            self.families[family] = max(deadline, self.families.get(family, deadline))
        elif key.startswith(REVOKED_BEFORE_PREFIX):
            staff = key[len(REVOKED_BEFORE_PREFIX):]
            cutoff = int(value)
            held = self.before.get(staff)
            if held is not None:
                # The newest cutoff wins, whatever order the snapshot and pushes arrive in.
                cutoff, deadline = max(cutoff, held[0]), max(deadline, held[1])
            self.before[staff] = (cutoff, deadline)

    def purge(self, now: float) -> None:
        for table in (self.denied, self.families):
            for k in [k for k, deadline in table.items() if deadline <= now]:
                del table[k]
        for k in [k for k, (_, deadline) in self.before.items() if deadline <= now]:
            del self.before[k]

    def revoked(self, jti: str, staff: str, family: str, issued_ms: int, now: float) -> bool:
        if self.denied.get(jti, now) > now:
            return True
        if family and self.families.get(family, now) > now:
            return True
        before = self.before.get(staff)
        return before is not None and before[1] > now and issued_ms < before[0]


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)


class RevocationView(BackgroundLoop):
    """This process's copy of the revocation marks, kept current by pub/sub."""

    task_name = "revocation-view"

    def __init__(
        self,
        cache: Cache,
        *,
        heartbeat_seconds: float = 1.0,
        max_staleness_seconds: float = 3.0,
        retry_seconds: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__()
        if cache.redis is None:
            raise ValueError("a revocation view needs a Redis client")
        self._cache = cache
        self._heartbeat = heartbeat_seconds
        self._max_staleness = max_staleness_seconds
        self._retry = retry_seconds
        self._clock = clock
        self.marks = Marks()
        # Send time of the newest answered ping: every mark published before it is applied.
        self._fresh_as_of: float | None = None
        self.syncs = 0  # completed (re)subscriptions, for tests and logs

    @property
    def channel(self) -> str:
        return self._cache.key(REVOCATION_CHANNEL)

    @property
    def synced(self) -> bool:
        fresh = self._fresh_as_of
        return fresh is not None and self._clock() - fresh <= self._max_staleness

    def revoked(self, jti: str, staff: str, family: str, issued_ms: int) -> bool | None:
        """Whether the token is revoked; None when out of sync (read Redis instead)."""
        if not self.synced:
            return None
        return self.marks.revoked(jti, staff, family, issued_ms, self._clock())

    async def _run(self) -> None:
        warned_at = -1  # the sync count at the last warning: one warning per outage
        while not self._stopping.is_set():
            try:
                await self._follow()
            except _FAILURES as exc:
                if warned_at != self.syncs:
                    warned_at = self.syncs
                    log.warning(
                        "revocation view out of sync (%s: %s); tokens are checked against "
                        "Redis per request until it resubscribes", type(exc).__name__, exc,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._retry)

    async def _follow(self) -> None:
        """Subscribe, load the stored marks, then apply pushes until the connection fails."""
        assert self._cache.redis is not None
        pubsub = self._cache.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            await self._await_subscribed(pubsub)
            # Subscribed first, so a mark is either in the snapshot or in the pushes after it.
            self.marks = await self._load()
            await self._listen(pubsub)
        finally:
            self._fresh_as_of = None
            with contextlib.suppress(*_FAILURES):
                await pubsub.aclose()

    async def _await_subscribed(self, pubsub: PubSub) -> None:
        async with asyncio.timeout(max(self._max_staleness, 1.0)):
            while True:
                message = await pubsub.get_message(timeout=self._heartbeat)
                if message is not None and message["type"] == "subscribe":
                    return

    async def _load(self) -> Marks:
        """The marks stored now: SCAN each prefix, then GET and PTTL in one pipeline a page."""
        redis = self._cache.redis
        assert redis is not None
        marks = Marks()
        prefix = self._cache.key("")
        async with asyncio.timeout(30.0):
            for mark_prefix in MARK_PREFIXES:
                match = _glob_escape(prefix + mark_prefix) + "*"
                cursor: int | str = 0
                while True:
                    cursor, keys = await redis.scan(cursor=int(cursor), match=match, count=500)
                    if keys:
                        await self._load_page(marks, list(keys), len(prefix))
                    if int(cursor) == 0:
                        break
        return marks

    async def _load_page(self, marks: Marks, keys: list[Any], prefix_len: int) -> None:
        redis = self._cache.redis
        assert redis is not None
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        results = await pipe.execute()
        now = self._clock()
        for i, key in enumerate(keys):
            value, pttl = results[2 * i], int(results[2 * i + 1])
            if pttl == -2 or value is None:
                continue  # expired between SCAN and GET
            ttl = NO_TTL_SECONDS if pttl < 0 else pttl / 1000
            marks.apply(str(key)[prefix_len:], str(value), ttl, now)

    async def _listen(self, pubsub: PubSub) -> None:
        started = next_ping = self._clock()
        next_purge = started + 30.0
        while not self._stopping.is_set():
            now = self._clock()
            if now >= next_ping:
                await pubsub.ping(f"{_PING_PREFIX}{now!r}")
                next_ping = now + self._heartbeat
            if now >= next_purge:
                self.marks.purge(now)
                next_purge = now + 30.0
            last = self._fresh_as_of if self._fresh_as_of is not None else started
            if now - last > self._max_staleness + self._heartbeat:
                raise TimeoutError("no answer on the revocation subscription")
            message = await pubsub.get_message(timeout=max(0.0, next_ping - self._clock()))
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, data = message["type"], message["data"]
        if kind == "message":
            mark = json.loads(data)
            self.marks.apply(str(mark["key"]), str(mark["value"]), float(mark["ttl"]),
                             self._clock())
        elif kind == "pong" and isinstance(data, str) and data.startswith(_PING_PREFIX):
            sent = float(data[len(_PING_PREFIX):])
            if self._fresh_as_of is None:
                self.syncs += 1
                log.info("revocation view in sync (%d marks)", len(self.marks))
            self._fresh_as_of = max(sent, self._fresh_as_of or sent)
        elif kind == "subscribe":
            # The client reconnected and resubscribed by itself: pushes may have been lost.
            raise ConnectionError("revocation subscription was re-established")


__all__ = [
    "DENYLIST_PREFIX",
    "MARK_PREFIXES",
    "REVOCATION_CHANNEL",
    "REVOKED_BEFORE_PREFIX",
    "REVOKED_FAMILY_PREFIX",
    "Marks",
    "RevocationView",
    "publish_mark",
]
