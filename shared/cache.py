"""A Redis cache that fails open: when Redis is down, requests still succeed.

Every failure (connection refused, timeout, any Redis error) is treated as a
miss or a no-op. Timeouts are short, and a circuit breaker skips Redis for a
few seconds after a failure, so a dead Redis costs one short timeout per
interval instead of one per request. Failures are logged once per interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shared.metrics import CACHE_HITS, CACHE_MISSES

log = logging.getLogger(__name__)

# INCR and set the window's expiry on the first hit, atomically: a crash
# between the two can't leave a counter that never expires.
_INCR_WITH_TTL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Versioned entries are hashes {v: version, d: data}; a tombstone is {v: version} with no
# data. Writes compare versions inside Redis, so of two racing writers the newer version
# always stays, whatever order their writes arrive in. A key of another type (an entry
# from before versioning) counts as absent.
_VERSIONED_GET = """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
return redis.call('HMGET', KEYS[1], 'v', 'd')
"""
# Store data at version ARGV[1] unless a newer version (data or tombstone) is held.
_SET_IF_NEWER = """
local t = redis.call('TYPE', KEYS[1]).ok
local held = nil
if t == 'hash' then held = tonumber(redis.call('HGET', KEYS[1], 'v')) end
if held and held > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
# Drop anything older than version ARGV[1] and remember that version, so a late write of
# an older one is refused. Data already at that version (or newer) is current: kept.
_TOMBSTONE = """
local t = redis.call('TYPE', KEYS[1]).ok
local held = nil
if t == 'hash' then held = tonumber(redis.call('HGET', KEYS[1], 'v')) end
if held and held >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_FAILURES = (RedisError, OSError, TimeoutError)


def create_redis(
    url: str,
    *,
    socket_timeout: float = 0.25,
    connect_timeout: float = 0.25,
    max_connections: int = 64,
) -> Redis:
    """A ``redis.asyncio`` client with short timeouts and no client-side retries.

    Create it inside the running loop. It connects lazily, so a dead Redis
    does not stop a service from starting.
    """
    asyncio.get_running_loop()
    client: Redis = Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=30,
        max_connections=max_connections,
    )
    return client


class Cache:
    """Fail-open cache operations over one Redis client, with an optional key prefix."""

    def __init__(
        self,
        redis: Redis | None,
        prefix: str = "",
        *,
        breaker_seconds: float = 5.0,
        op_timeout: float = 0.5,
        log_interval: float = 30.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker_seconds = breaker_seconds
        self.op_timeout = op_timeout
        self.log_interval = log_interval
        self.failures = 0
        self._open_until = 0.0
        self._last_log = float("-inf")
        self._unlogged = 0
        scripts = (_INCR_WITH_TTL, _VERSIONED_GET, _SET_IF_NEWER, _TOMBSTONE)
        self._incr_script, self._versioned_get, self._set_if_newer, self._tombstone = (
            redis.register_script(s) if redis is not None else None for s in scripts
        )

    # breaker ----------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while the breaker is open (Redis failed in the last few seconds)."""
        return self.redis is not None and time.monotonic() >= self._open_until

    def _allow(self) -> bool:
        if self.redis is None:
            return False
        now = time.monotonic()
        if now < self._open_until:
            return False
        if self._open_until:
            # Half-open: this call is the probe; others keep skipping until it answers.
            self._open_until = now + self.breaker_seconds
        return True

    def _succeeded(self) -> None:
        if self._open_until:
            log.info("redis is reachable again; cache back in use")
            self._open_until = 0.0
            self._last_log = float("-inf")

    def _failed(self, op: str, exc: BaseException) -> None:
        self.failures += 1
        self._open_until = time.monotonic() + self.breaker_seconds
        now = time.monotonic()
        if now - self._last_log >= self.log_interval:
            extra = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
            log.warning(
                "redis unavailable (%s: %s: %s); cache failing open for %.0fs%s",
                op, type(exc).__name__, exc, self.breaker_seconds, extra,
            )
            self._last_log, self._unlogged = now, 0
        else:
            self._unlogged += 1

    def key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    # operations -------------------------------------------------------------
    async def get(self, key: str) -> str | None:
        if not self._allow():
            return None
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.op_timeout):
                value = await self.redis.get(self.key(key))
        except _FAILURES as exc:
            self._failed("get", exc)
            return None
        self._succeeded()
        if isinstance(value, bytes):
            return value.decode()
        return value if value is None else str(value)

    async def get_many(self, *keys: str) -> list[str | None]:
        """Several keys in one round trip (MGET); all None when Redis is unavailable."""
        if not keys or not self._allow():
            return [None] * len(keys)
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.op_timeout):
                values = await self.redis.mget([self.key(k) for k in keys])
        except _FAILURES as exc:
            self._failed("mget", exc)
            return [None] * len(keys)
        self._succeeded()
        return [
            v.decode() if isinstance(v, bytes) else (v if v is None else str(v)) for v in values
        ]

    async def set(self, key: str, value: str, ttl: int | None = None) -> bool:
        """Store ``value``; ``ttl`` in seconds. False when Redis was unavailable."""
        if not self._allow():
            return False
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.op_timeout):
                await self.redis.set(self.key(key), value, ex=ttl if ttl and ttl > 0 else None)
        except _FAILURES as exc:
            self._failed("set", exc)
            return False
        self._succeeded()
        return True

    async def set_and_publish(
        self, key: str, value: str, ttl: int, channel: str, message: str
    ) -> bool:
        """SET ``key`` (``ttl`` seconds) and PUBLISH ``message`` on ``channel``, both or neither
        (one MULTI). Both names get the prefix. False when Redis was unavailable."""
        if not self._allow():
            return False
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.op_timeout):
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.set(self.key(key), value, ex=ttl if ttl > 0 else None)
                    pipe.publish(self.key(channel), message)
                    await pipe.execute()
        except _FAILURES as exc:
            self._failed("set", exc)
            return False
        self._succeeded()
        return True

    async def delete(self, *keys: str) -> bool:
        if not keys or not self._allow():
            return False
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.op_timeout):
                await self.redis.delete(*(self.key(k) for k in keys))
        except _FAILURES as exc:
            self._failed("delete", exc)
            return False
        self._succeeded()
        return True

    async def get_json(self, key: str) -> Any | None:
        raw = await self.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            # A corrupt entry is a miss, and goes away.
            await self.delete(key)
            return None

    async def set_json(self, key: str, value: Any, ttl: int | None = None) -> bool:
        return await self.set(key, json.dumps(value, separators=(",", ":")), ttl)

    async def incr_with_ttl(self, key: str, ttl: int) -> int | None:
        """Count within a window that expires ``ttl`` seconds after the first hit.

        None when Redis is unavailable: the caller decides what failing open means.
        """
        if self._incr_script is None or not self._allow():
            return None
        try:
            async with asyncio.timeout(self.op_timeout):
                # EVALSHA, falling back to EVAL once per server when the script is not cached.
                result = await self._incr_script(keys=[self.key(key)], args=[int(ttl)])
        except _FAILURES as exc:
            self._failed("incr", exc)
            return None
        self._succeeded()
        return int(result)

    # versioned entries ------------------------------------------------------
    # For records that carry a version which grows on every write. A reader that missed,
    # loaded version n from the database and writes it back late cannot overwrite (or
    # outlive) a newer version: ``invalidate_below`` after each committed write leaves a
    # tombstone carrying the new version, and ``set_if_newer`` refuses anything older.
    # Plain delete-on-write cannot do this: the late write lands after the delete.

    async def _script(
        self, op: str, script: Any, key: str, args: list[Any], *, always: bool = False
    ) -> Any:
        if script is None or self.redis is None or (not always and not self._allow()):
            return None
        try:
            async with asyncio.timeout(self.op_timeout):
                result = await script(keys=[self.key(key)], args=args)
        except _FAILURES as exc:
            self._failed(op, exc)
            return None
        self._succeeded()
        return result

    async def get_versioned(self, key: str) -> tuple[int, str] | None:
        """``(version, data)``; None for a miss, a tombstone, or Redis unavailable."""
        found = await self._script("get", self._versioned_get, key, [])
        if not isinstance(found, list) or len(found) != 2 or found[1] is None:
            return None
        version, data = found
        try:
            return int(version), data.decode() if isinstance(data, bytes) else str(data)
        except (TypeError, ValueError):
            return None

    async def set_if_newer(
        self, key: str, value: str, version: int, ttl: int | None = None
    ) -> bool:
        """Store ``value`` as ``version`` unless a newer version or tombstone is held.

        False when refused or when Redis was unavailable.
        """
        ttl_arg = ttl if ttl and ttl > 0 else 0
        return bool(await self._script("set", self._set_if_newer, key,
                                       [int(version), value, int(ttl_arg)]))

    async def invalidate_below(self, key: str, version: int, ttl: int) -> bool:
        """After committing ``version``: drop older data and refuse it for ``ttl`` seconds.

        The tombstone should outlive any read that can still be in flight; the entry TTL
        is a safe choice. False when nothing changed (already current) or Redis was
        unavailable.
        """
        # Tried even while the breaker is open: one timed-out call elsewhere in the process
        # must not let a committed write skip its tombstone while Redis is in fact up (a
        # stale copy could then be served, and scope-checked, for the whole entry TTL).
        # Shielded, so a caller cancelled right after its commit still leaves it.
        return bool(
            await asyncio.shield(
                self._script(
                    "delete", self._tombstone, key, [int(version), max(1, int(ttl))], always=True
                )
            )
        )

    async def ping(self) -> bool:
        """For health reports; ignores the breaker so it tells the current truth."""
        if self.redis is None:
            return False
        try:
            async with asyncio.timeout(self.op_timeout):
                ok = bool(await self.redis.ping())
        except _FAILURES:
            return False
        if ok:
            self._succeeded()
        return ok

    async def close(self) -> None:
        if self.redis is not None:
            try:
                await self.redis.aclose()
            except _FAILURES:
                log.debug("error closing redis client", exc_info=True)


class CacheCounter:
    """Hits and misses of one named cache (``microfinance_cache_hits_total`` and
    ``..._misses_total``), with the label bound once: ``counter.hit()``, ``counter.miss()``."""

    __slots__ = ("hit", "miss")

    def __init__(self, name: str) -> None:
        self.hit: Callable[[], None] = CACHE_HITS.labels(name).inc
        self.miss: Callable[[], None] = CACHE_MISSES.labels(name).inc


__all__ = ["Cache", "CacheCounter", "create_redis"]
