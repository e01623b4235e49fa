"""Login rate limiting: fixed one-minute windows per client IP and per username.

The counters live in Redis so every gateway replica shares them. When Redis is
down the limiter lets logins through (fail open): the account lockout in
auth_service still bounds password guessing, and an outage of the cache must
not lock every user out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from api_gateway.errors import RateLimited

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "mf:gw:login:"


class Counter(Protocol):
    async def incr_with_ttl(self, key: str, ttl: int) -> int | None: ...


def _username_key(username: str) -> str:
    # Hashed so the cache never holds email addresses; casefold as auth_service matches
    # usernames, so look-alike spellings (long s for "s", U+017F) share one bucket.
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


class LoginRateLimiter:
    def __init__(
        self,
        counter: Counter,
        *,
        limit_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counter = counter
        self._limit = limit_per_minute
        self._clock = clock

    async def check(self, *, client_ip: str, username: str) -> None:
        """Counts this attempt; raises RateLimited once either key is over the limit."""
        if self._limit <= 0:
            return
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        # The key expires with its window (plus slack for clock differences between replicas).
        ttl = WINDOW_SECONDS + 5
        keys = {
            "ip": f"{KEY_PREFIX}ip:{client_ip or 'unknown'}:{window}",
            "user": f"{KEY_PREFIX}user:{_username_key(username)}:{window}",
        }
        exceeded: list[str] = []
        for kind, key in keys.items():
            count = await self._counter.incr_with_ttl(key, ttl)
            if count is None:
                continue  # cache unavailable: fail open
            if count > self._limit:
                exceeded.append(kind)
        if exceeded:
            log.warning(
                "login rate limit exceeded (%s)",
                " and ".join("client address" if k == "ip" else "username" for k in exceeded),
                extra={"client_ip": client_ip},
            )
            raise RateLimited(
                f"too many login attempts; try again in {retry_after} seconds",
                retry_after=retry_after,
            )
