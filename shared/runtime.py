"""Wiring every service repeats: clients, token verification, and the run loop."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grpc import aio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared import eventloop, heap, metrics, tracing
from shared.cache import Cache, create_redis
from shared.config import Settings, get_settings
from shared.events import Handler, IdempotentConsumer, Outbox, OutboxRelay
from shared.grpc.access import Access
from shared.grpc.client import create_channel
from shared.grpc.server import (
    Background,
    GrpcServiceHost,
    ServiceDefinition,
    run_until_signalled,
)
from shared.logging import configure_logging
from shared.money import set_max_amount_minor
from shared.mongo import IndexRegistry, create_mongo_client, ping, run_in_transaction
from shared.revocation import RevocationView
from shared.service_identity import ServiceIdentity
from shared.tokens import JwksFetcher, JwksKeyCache, TokenVerifier

log = logging.getLogger(__name__)
T = TypeVar("T")


def database_name(settings: Settings, service: str) -> str:
    # One database per service makes ownership visible and keeps outboxes apart.
    return f"{settings.mongo_db}_{service}"


def queue_name(settings: Settings, service: str, name: str) -> str:
    # Named after the exchange, so deployments (and test runs) sharing a broker stay apart.
    return f"{settings.amqp_exchange}.{service}.{name}"


@dataclass
class Infrastructure:
    settings: Settings
    service: str
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    cache: Cache
    outbox: Outbox
    relay: OutboxRelay
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Gauges refreshed on a timer while metrics are on (shared/metrics.py); the outbox
    # backlog is there from the start, services add theirs while building.
    samples: list[tuple[str, metrics.Sample]] = field(default_factory=list)
    _auth_channel: aio.Channel | None = field(default=None, repr=False)

    def auth_channel(self) -> aio.Channel:
        """The process's one channel to auth_service (keys, service tokens, credentials).

        Created on first use, inside the running loop, and closed once by ``close``.
        """
        if self._auth_channel is None:
            channel = create_channel(
                self.settings.auth_addr, default_timeout=self.settings.grpc_deadline_seconds
            )
            self._auth_channel = channel

            async def close() -> None:
                await channel.close(None)

            self.closers.append(close)
        return self._auth_channel

    def consumer(
        self, queue: str, routing_keys: Sequence[str], handler: Handler, **options: Any
    ) -> IdempotentConsumer:
        """A background consumer of this service's durable queue ``queue``; ``options``
        go to ``IdempotentConsumer`` (prefetch, concurrency, retries, ``batch_handler``
        and ``batch_max`` for batch mode)."""
        consumer = IdempotentConsumer(
            client=self.mongo,
            db=self.db,
            amqp_url=self.settings.amqp_url,
            exchange=self.settings.amqp_exchange,
            queue=queue_name(self.settings, self.service, queue),
            routing_keys=routing_keys,
            handler=handler,
            queue_type=self.settings.amqp_queue_type,
            **options,
        )
        metrics.watch_consumer(consumer)
        return consumer

    async def in_transaction(self, body: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run ``body`` in a Mongo transaction, retried on transient conflicts."""
        return await run_in_transaction(self.mongo, body)

    async def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()
        await self.cache.close()
        await self.mongo.close()

    async def mongo_healthy(self) -> bool:
        return bool(await ping(self.mongo))

    def definition(
        self,
        register: Callable[[aio.Server], None],
        service_names: Sequence[str],
        access: Mapping[str, Access],
        *,
        background: Sequence[Background] = (),
        verifier: TokenVerifier | None = None,
    ) -> ServiceDefinition:
        """This service as every one runs: healthy while its Mongo answers, its outbox
        relayed (before its own ``background``), tokens checked against auth_service's keys
        unless it brings its own ``verifier``, its sampled gauges refreshed while metrics
        are on (``MF_METRICS_PORT``)."""
        sampled: list[Background] = []
        if self.settings.metrics_port and self.samples:
            sampled.append(metrics.Sampler(self.samples, self.settings.metrics_sample_seconds))
        return ServiceDefinition(
            name=f"{self.service}_service",
            register=register,
            service_names=service_names,
            access=access,
            verifier=verifier or remote_verifier(self),
            health_checks={"mongo": self.mongo_healthy},
            background=[self.relay, *background, *sampled],
        )


async def open_infrastructure(settings: Settings, service: str) -> Infrastructure:
    """Create the clients inside the running loop; none of them connects eagerly."""
    set_max_amount_minor(settings.max_amount_minor)
    timeout_ms = int(settings.mongo_timeout_seconds * 1000)
    mongo = create_mongo_client(
        settings.mongo_url_or_default(),
        app_name=f"mf-{service}",
        server_selection_timeout_ms=timeout_ms,
        connect_timeout_ms=timeout_ms,
    )
    cache = Cache(create_redis(settings.redis_url), prefix=settings.redis_key_prefix)
    db = mongo[database_name(settings, service)]
    outbox = Outbox(db, producer=f"{service}_service")
    relay = OutboxRelay(outbox, settings.amqp_url, settings.amqp_exchange)
    metrics.watch_relay(relay, service)
    return Infrastructure(
        settings=settings,
        service=service,
        mongo=mongo,
        db=db,
        cache=cache,
        outbox=outbox,
        relay=relay,
        samples=[("outbox", metrics.outbox_sample(outbox, service))],
    )


def auth_jwks_fetcher(channel: aio.Channel) -> JwksFetcher:
    """Fetch verifying keys from auth_service over ``channel`` (the caller owns it)."""
    from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc

    stub = auth_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> list[Mapping[str, Any]]:
        response = await stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        fields = ("kid", "kty", "alg", "use", "crv", "x", "n", "e")
        return [{f: getattr(k, f) for f in fields if getattr(k, f)} for k in response.keys]

    return fetch


def make_verifier(
    settings: Settings, fetch: JwksFetcher, cache: Cache | None = None
) -> TokenVerifier:
    """A verifier for this process. With ``cache``, revocations are pushed to it over Redis
    pub/sub (``start``/``stop`` it with the process; ``GrpcServiceHost`` does) and read from
    Redis per request only while that view is out of sync (shared/revocation.py)."""
    view = RevocationView(cache) if cache is not None and cache.redis is not None else None
    return TokenVerifier(
        JwksKeyCache(fetch, ttl_seconds=settings.public_key_cache_seconds),
        issuer=settings.jwt_issuer,
        denylist=cache,
        revocations=view,
    )


Builder = Callable[[Infrastructure], Awaitable[ServiceDefinition]]


async def serve(service: str, build: Builder, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    infra = await open_infrastructure(settings, service)
    try:
        definition = await build(infra)
        heap.settle(settings.gc_gen0_threshold)
        host = GrpcServiceHost(
            definition,
            host=settings.bind_host,
            port=settings.port_for(service),
            grace_seconds=settings.shutdown_grace_seconds,
        )
        with metrics_endpoint(settings):
            await run_until_signalled(host)
    finally:
        await infra.close()


@contextlib.contextmanager
def metrics_endpoint(settings: Settings) -> Iterator[metrics.MetricsEndpoint | None]:
    """This process' /metrics listener while the block runs; None when MF_METRICS_PORT=0."""
    if not settings.metrics_port:
        yield None
        return
    endpoint = metrics.MetricsEndpoint(settings.metrics_host, settings.metrics_port)
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def run_service(service: str, build: Builder) -> None:
    settings = get_settings()
    configure_logging(f"{service}_service", settings.log_level, settings.log_json)
    tracing.setup(settings.tracing, f"{service}_service")
    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(serve(service, build, settings), settings.event_loop)


def remote_verifier(infra: Infrastructure) -> TokenVerifier:
    """A verifier whose keys come from auth_service over the process's auth channel."""
    return make_verifier(infra.settings, auth_jwks_fetcher(infra.auth_channel()), infra.cache)


async def apply_indexes(settings: Settings, service: str, registry: IndexRegistry) -> None:
    """One service's migrations, run by `microfinance migrate` outside the server."""
    client = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-migrate")
    try:
        await registry.apply(client[database_name(settings, service)])
    finally:
        await client.close()


def service_identity(infra: Infrastructure) -> ServiceIdentity:
    """This service's own identity, for background work; tokens come from auth_service."""
    from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc

    settings = infra.settings
    stub = auth_pb2_grpc.AuthServiceStub(infra.auth_channel())
    secret = (
        settings.service_token_secret.get_secret_value() if settings.service_token_secret else ""
    )

    async def fetch() -> tuple[str, int]:
        reply = await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(service=infra.service, secret=secret)
        )
        return reply.access_token, int(reply.expires_in)

    return ServiceIdentity(infra.service, fetch)
