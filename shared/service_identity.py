"""A service acting for itself: SERVICE tokens for background work.

Work that no person started (re-driving pending payments, the end-of-day job)
still calls other services with a bearer token, so those services check it
like any other. The token comes from auth_service in exchange for the shared
service secret, and is renewed before it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from shared.identity import Caller, Role, caller_var

# Renew this long before expiry, so a call never leaves with a token about to lapse.
RENEW_MARGIN_SECONDS = 60

TokenSource = Callable[[], Awaitable[tuple[str, int]]]


class ServiceIdentity:
    def __init__(
        self, service: str, fetch: TokenSource, clock: Callable[[], float] = time.time
    ) -> None:
        self.service = service
        self._fetch = fetch
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._clock() < self._expires_at - RENEW_MARGIN_SECONDS:
            return self._token
        async with self._lock:
            if self._clock() >= self._expires_at - RENEW_MARGIN_SECONDS:
                token, expires_in = await self._fetch()
                self._token, self._expires_at = token, self._clock() + expires_in
        return self._token

    async def caller(self) -> Caller:
        return Caller(
            subject=f"service:{self.service}",
            role=Role.SERVICE,
            token=await self.token(),
            expires_at=int(self._expires_at),
        )

    @contextlib.asynccontextmanager
    async def acting(self) -> AsyncIterator[Caller]:
        """Within the block, outgoing gRPC calls carry this service's own token."""
        caller = await self.caller()
        reset = caller_var.set(caller)
        try:
            yield caller
        finally:
            caller_var.reset(reset)
