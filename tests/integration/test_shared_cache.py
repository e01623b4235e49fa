from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest

from microfinance_cli.backends import free_port
from shared.cache import Cache, create_redis
from tests.integration.support import TcpProxy, eventually

pytestmark = pytest.mark.integration


async def test_cache_operations_against_redis(redis_client, redis_prefix) -> None:
    cache = Cache(redis_client, prefix=redis_prefix)
    assert await cache.get("missing") is None
    assert await cache.set("k", "v", ttl=60) is True
    assert await cache.get("k") == "v"
    assert 0 < await redis_client.ttl(f"{redis_prefix}k") <= 60

    assert await cache.set_json("j", {"amount_minor": 1500, "currency": "KES"}) is True
    assert await cache.get_json("j") == {"amount_minor": 1500, "currency": "KES"}
    await redis_client.set(f"{redis_prefix}bad", "{not json")
    assert await cache.get_json("bad") is None
    assert await redis_client.exists(f"{redis_prefix}bad") == 0

    assert await cache.incr_with_ttl("n", 30) == 1
    assert await cache.incr_with_ttl("n", 30) == 2
    assert 0 < await redis_client.ttl(f"{redis_prefix}n") <= 30

    assert await cache.delete("k", "j", "n") is True
    assert await cache.get("k") is None
    assert await cache.ping() is True


async def test_cache_fails_open_fast_when_redis_is_unreachable(caplog) -> None:
    cache = Cache(create_redis(f"redis://127.0.0.1:{free_port()}/0"), breaker_seconds=30)
    caplog.set_level(logging.WARNING, logger="shared.cache")
    try:
        started = time.monotonic()
        for _ in range(20):
            assert await cache.get("k") is None
        assert await cache.set("k", "v", ttl=5) is False
        assert await cache.set_json("j", {"a": 1}) is False
        assert await cache.get_json("j") is None
        assert await cache.incr_with_ttl("n", 5) is None
        assert await cache.delete("k") is False
        elapsed = time.monotonic() - started
    finally:
        await cache.close()
    assert elapsed < 0.5, f"25 calls against a dead Redis took {elapsed:.2f}s"
    # The breaker opened after the first failure: Redis was tried once.
    assert cache.failures == 1
    assert cache.available is False
    warnings = [r for r in caplog.records if r.name == "shared.cache"]
    assert len(warnings) == 1
    assert await cache.ping() is False


async def test_cache_without_redis_is_a_no_op() -> None:
    cache = Cache(None)
    assert await cache.get("k") is None
    assert await cache.set("k", "v") is False
    assert await cache.incr_with_ttl("k", 1) is None
    await cache.close()


async def test_cache_recovers_when_redis_returns(redis_url, redis_prefix) -> None:
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    cache = Cache(
        create_redis(f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"),
        prefix=redis_prefix,
        breaker_seconds=0.2,
    )
    try:
        assert await cache.set("k", "before") is True
        await proxy.cut()
        assert await cache.get("k") is None  # fails open
        assert cache.available is False
        await proxy.restore()
        assert await eventually(lambda: cache.get("k"), what="cache reads again") == "before"
        assert cache.available is True
    finally:
        await cache.close()
        await proxy.close()
