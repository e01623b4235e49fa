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
    assert await cache.get_many("k", "missing", "k") == ["v", None, "v"]
    assert await cache.get_many() == []

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


async def test_versioned_entries_never_go_back_to_an_older_version(
    redis_client, redis_prefix
) -> None:
    cache = Cache(redis_client, prefix=redis_prefix)
    assert await cache.get_versioned("b") is None
    assert await cache.set_if_newer("b", "v1", 1, ttl=60) is True
    assert await cache.get_versioned("b") == (1, "v1")
    assert 0 < await redis_client.ttl(f"{redis_prefix}b") <= 60

    # Writers racing: the newer version stays whichever write lands last.
    assert await cache.set_if_newer("b", "v3", 3, ttl=60) is True
    assert await cache.set_if_newer("b", "v2", 2, ttl=60) is False
    assert await cache.get_versioned("b") == (3, "v3")

    # Version 4 committed: the tombstone hides version 3 and refuses it from a late reader.
    assert await cache.invalidate_below("b", 4, ttl=60) is True
    assert await cache.get_versioned("b") is None
    assert await cache.set_if_newer("b", "v3", 3, ttl=60) is False
    assert await cache.get_versioned("b") is None
    assert 0 < await redis_client.ttl(f"{redis_prefix}b") <= 60
    # A read of version 4 (or newer) fills it again.
    assert await cache.set_if_newer("b", "v4", 4, ttl=60) is True
    assert await cache.get_versioned("b") == (4, "v4")
    # A tombstone for the version already cached keeps the current entry.
    assert await cache.invalidate_below("b", 4, ttl=60) is False
    assert await cache.get_versioned("b") == (4, "v4")
    # A late tombstone for an older version does not hide a newer entry.
    assert await cache.invalidate_below("b", 2, ttl=60) is False
    assert await cache.get_versioned("b") == (4, "v4")

    # A tombstone on an absent key still refuses older writes.
    assert await cache.invalidate_below("fresh", 2, ttl=60) is True
    assert await cache.set_if_newer("fresh", "v1", 1) is False
    # A plain (unversioned) value at the key is no entry, and gets replaced.
    await redis_client.set(f"{redis_prefix}old", "from before versioning")
    assert await cache.get_versioned("old") is None
    assert await cache.set_if_newer("old", "v1", 1) is True
    assert await cache.get_versioned("old") == (1, "v1")
    assert await redis_client.ttl(f"{redis_prefix}old") == -1  # no ttl given: none set
    assert cache.failures == 0


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
        assert await cache.get_versioned("k") is None
        assert await cache.set_if_newer("k", "v", 1, ttl=5) is False
        assert await cache.invalidate_below("k", 2, ttl=5) is False
        assert await cache.get_many("k", "j") == [None, None]
        elapsed = time.monotonic() - started
    finally:
        await cache.close()
    assert elapsed < 0.5, f"29 calls against a dead Redis took {elapsed:.2f}s"
    # The breaker opened after the first failure: Redis was tried once, and once more for
    # the tombstone, which is always tried (a committed write must leave it if it can).
    assert cache.failures == 2
    assert cache.available is False
    warnings = [r for r in caplog.records if r.name == "shared.cache"]
    assert len(warnings) == 1
    assert await cache.ping() is False


async def test_cache_without_redis_is_a_no_op() -> None:
    cache = Cache(None)
    assert await cache.get("k") is None
    assert await cache.get_many("k") == [None]
    assert await cache.set("k", "v") is False
    assert await cache.incr_with_ttl("k", 1) is None
    assert await cache.get_versioned("k") is None
    assert await cache.set_if_newer("k", "v", 1) is False
    assert await cache.invalidate_below("k", 1, ttl=1) is False
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


async def test_a_tombstone_is_written_even_while_the_breaker_is_open(
    redis_url, redis_client, redis_prefix
) -> None:
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    cache = Cache(
        create_redis(f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"),
        prefix=redis_prefix,
        breaker_seconds=60,
    )
    try:
        assert await cache.set_if_newer("b", "v1", 1, ttl=60) is True
        await proxy.cut()
        assert await cache.get("b") is None  # one failure opens the breaker for a minute
        await proxy.restore()
        assert cache.available is False
        # Version 2 committed meanwhile: its tombstone still lands, so v1 is never served.
        assert await cache.invalidate_below("b", 2, ttl=60) is True
        direct = Cache(redis_client, prefix=redis_prefix)
        assert await direct.get_versioned("b") is None
        assert await direct.set_if_newer("b", "v1", 1, ttl=60) is False
    finally:
        await cache.close()
        await proxy.close()

