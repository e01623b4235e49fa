"""Bootstrap for a grpc.aio service: interceptors, health, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer as AsyncHealthServicer

from shared.grpc.access import Access
from shared.grpc.interceptors import ServiceInterceptor
from shared.grpc.reflection import enable_reflection
from shared.tokens import TokenVerifier

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]


class Background(Protocol):
    """A long-running helper (outbox relay, consumer, recovery loop)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceDefinition:
    """Everything the bootstrap needs to know about one service."""

    name: str
    register: Callable[[aio.Server], None]
    service_names: Sequence[str]
    access: Mapping[str, Access]
    verifier: TokenVerifier
    # Named dependencies whose failure flips health to NOT_SERVING (e.g. "mongo").
    health_checks: Mapping[str, HealthCheck] = field(default_factory=dict)
    background: Sequence[Background] = ()
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()


class GrpcServiceHost:
    def __init__(
        self,
        definition: ServiceDefinition,
        *,
        host: str,
        port: int,
        grace_seconds: float = 10.0,
        health_interval_seconds: float = 2.0,
    ) -> None:
        self.definition = definition
        self._address = f"{host}:{port}"
        self._grace = grace_seconds
        self._interval = health_interval_seconds
        self.health = AsyncHealthServicer()
        self.server = aio.server(
            interceptors=[ServiceInterceptor(definition.verifier, definition.access)],
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                ("grpc.keepalive_permit_without_calls", 1),
                # Clients reconnect at least every 5 minutes, and a dns:/// client re-resolves
                # when it does: replicas added by scaling out get their share of calls.
                # All RPCs are unary, so the 30 s grace lets any call in flight finish.
                ("grpc.max_connection_age_ms", 300_000),
                ("grpc.max_connection_age_grace_ms", 30_000),
            ],
        )
        self.port = 0
        self._stopped = asyncio.Event()
        self._watch_task: asyncio.Task[None] | None = None
        self._serving: bool | None = None
        self.unhealthy: list[str] = []

    @property
    def address(self) -> str:
        host = self._address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> None:
        d = self.definition
        d.register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        enable_reflection([*d.service_names, health.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise RuntimeError(f"could not bind {self._address}")
        # Pushed revocations first: until in sync, verification reads Redis per request.
        await d.verifier.start()
        for bg in d.background:
            await bg.start()
        await self.server.start()
        await self._check_health()
        self._watch_task = asyncio.create_task(self._watch_health(), name=f"{d.name}-health")
        log.info("%s listening on %s", d.name, self.address)

    async def _set_all(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.definition.service_names):
            await self.health.set(name, status)

    async def _check_health(self) -> None:
        failing: list[str] = []
        for name, check in self.definition.health_checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=max(self._interval, 1.0))
            except Exception:
                ok = False
            if not ok:
                failing.append(name)
        serving = not failing
        if serving != self._serving:
            if serving:
                log.info("%s is SERVING", self.definition.name)
            else:
                log.warning("%s is NOT_SERVING: %s down", self.definition.name, ", ".join(failing))
            self._serving = serving
            self.unhealthy = failing
            await self._set_all(serving)

    async def _watch_health(self) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self._interval)
            if not self._stopped.is_set():
                await self._check_health()

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("%s shutting down", self.definition.name)
        await self.health.enter_graceful_shutdown()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        await self.server.stop(self._grace)
        for bg in reversed(self.definition.background):
            try:
                await bg.stop()
            except Exception:
                log.exception("error stopping %r", bg)
        try:
            await self.definition.verifier.stop()
        except Exception:
            log.exception("error stopping the token verifier")
        for hook in self.definition.on_stop:
            try:
                await hook()
            except Exception:
                log.exception("error in shutdown hook")

    async def wait(self) -> None:
        await self._stopped.wait()


async def run_until_signalled(host: GrpcServiceHost) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    await host.start()
    await stop_requested.wait()
    await host.stop()
