"""Idempotent consumers: each event handled once, in the same transaction as its writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from shared.clock import utcnow
from shared.errors import Conflict
from shared.events.envelope import Event
from shared.logging import Throttled, request_id_var
from shared.mongo import Database, IndexRegistry, MongoClient, transaction

# One logger for the whole package, under the name it always had.
log = logging.getLogger("shared.events")

PROCESSED_COLLECTION = "processed_events"


def processed_indexes(
    collection: str = PROCESSED_COLLECTION, retention_days: int = 30
) -> IndexRegistry:
    """The processed-events marker lives ``retention_days`` (a redelivery comes much sooner)."""
    return IndexRegistry(
        {
            collection: [
                IndexModel(
                    [("processed_at", ASCENDING)],
                    name="expire_processed",
                    expireAfterSeconds=retention_days * 86400,
                )
            ]
        }
    )


class _AlreadyProcessed(Exception):
    pass


Handler = Callable[[Event, AsyncClientSession], Awaitable[None]]
RETRY_HEADER = "x-mf-attempt"


class IdempotentConsumer:
    """Consumes events from a durable queue bound to ``routing_keys``; each event once.

    Override ``handle`` (or pass ``handler``). It runs inside a Mongo
    transaction together with the insert of the event id into
    ``processed_events``; pass the session to your writes so both commit or
    neither does. A redelivered event whose id is recorded is acked and
    skipped. A failing handler is retried ``max_attempts`` times with backoff,
    then the message is dead-lettered to ``<queue>.dead``. Messages are
    handled one at a time, in queue order, unless ``concurrency`` > 1.
    """

    def __init__(
        self,
        *,
        client: MongoClient,
        db: Database,
        amqp_url: str,
        exchange: str,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler | None = None,
        prefetch: int = 16,
        concurrency: int = 1,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        retry_backoff_max: float = 5.0,
        processed_collection: str = PROCESSED_COLLECTION,
        connect_timeout: float = 5.0,
    ) -> None:
        if not routing_keys:
            raise ValueError("a consumer needs at least one routing key")
        self.client = client
        self.db = db
        self.amqp_url = amqp_url
        self.exchange_name = exchange
        self.queue_name = queue
        self.routing_keys = list(routing_keys)
        self._handler = handler
        self.prefetch = prefetch
        # One at a time keeps the queue's order; projections that tolerate
        # reordering can raise it.
        self._slots: asyncio.Lock | asyncio.Semaphore = (
            asyncio.Lock() if concurrency <= 1 else asyncio.Semaphore(concurrency)
        )
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.processed = db[processed_collection]
        self.connect_timeout = connect_timeout
        self.handled = 0
        self.skipped = 0
        self.dead_lettered = 0
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange_name}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue_name}.dead"

    async def handle(self, event: Event, session: AsyncClientSession) -> None:
        if self._handler is None:
            raise NotImplementedError("override handle() or pass handler=")
        await self._handler(event, session)

    # lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        """Start consuming. Never raises for an outage: if RabbitMQ is down, it
        keeps trying in the background (``ready`` is set once it consumes)."""
        if self._connection is not None or self._connector is not None:
            return
        try:
            await self.connect()
        except Exception as exc:
            log.warning(
                "consumer %s cannot reach RabbitMQ yet (%s: %s); retrying",
                self.queue_name,
                type(exc).__name__,
                exc,
            )
            self._connector = asyncio.create_task(
                self._keep_connecting(), name=f"consumer-connect-{self.queue_name}"
            )

    async def _keep_connecting(self) -> None:
        backoff = 0.5
        warn = Throttled(log)
        while self._connection is None:
            await asyncio.sleep(backoff)  # reconnect backoff; stop() cancels this task
            try:
                await self.connect()
            except Exception as exc:
                warn.warning("consumer %s still cannot reach RabbitMQ (%s)", self.queue_name, exc)
                backoff = min(backoff * 2, 30.0)

    async def connect(self) -> None:
        """Connect, declare the topology and start consuming; raises if RabbitMQ is down."""
        connection = await aio_pika.connect_robust(
            self.amqp_url,
            timeout=self.connect_timeout,
            reconnect_interval=1.0,
            client_properties={"connection_name": f"consumer {self.queue_name}"},
        )
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            dlx = await channel.declare_exchange(
                self.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
            )
            dead = await channel.declare_queue(self.dead_letter_queue, durable=True)
            await dead.bind(dlx, routing_key=self.queue_name)
            queue = await channel.declare_queue(
                self.queue_name,
                durable=True,
                arguments={
                    "x-dead-letter-exchange": self.dead_letter_exchange,
                    "x-dead-letter-routing-key": self.queue_name,
                },
            )
            for key in self.routing_keys:
                await queue.bind(exchange, routing_key=key)
            self._consumer_tag = await queue.consume(self._on_message, no_ack=False)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._channel, self._queue = connection, channel, queue
        self.ready.set()
        log.info(
            "consuming %s from %s (%s)",
            self.queue_name,
            self.exchange_name,
            ", ".join(self.routing_keys),
        )

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Stop taking messages, let the in-flight ones finish, close the connection."""
        connector, self._connector = self._connector, None
        if connector is not None:
            connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connector
        self.ready.clear()
        queue, tag = self._queue, self._consumer_tag
        self._queue = self._consumer_tag = None
        if queue is not None and tag is not None:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=drain_seconds)
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    # processing -------------------------------------------------------------
    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self._slots:
                await self._process(message)
        finally:
            if task is not None:
                self._inflight.discard(task)

    def _marker_id(self, event_id: str) -> str:
        # Per queue: two consumers in one database each process the event once.
        return f"{self.queue_name}:{event_id}"

    async def _process(self, message: AbstractIncomingMessage) -> None:
        try:
            event = Event.from_bytes(message.body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "dead-lettering malformed message %s on %s: %s",
                message.message_id,
                self.queue_name,
                exc,
            )
            self.dead_lettered += 1
            await message.reject(requeue=False)
            return
        token = request_id_var.set(event.request_id)
        try:
            outcome = await self._handle_once(event)
        except Exception as exc:
            await self._retry_or_dead_letter(message, event, exc)
            return
        finally:
            request_id_var.reset(token)
        if outcome:
            self.handled += 1
        else:
            self.skipped += 1
        await message.ack()

    async def _handle_once(self, event: Event) -> bool:
        """Run the handler with the processed marker; False when it was already processed."""
        marker = self._marker_id(event.id)
        # Cheap pre-check for the common redelivery; the unique _id is the real guard.
        if await self.processed.find_one({"_id": marker}, {"_id": 1}) is not None:
            return False
        for attempt in range(1, 6):
            try:
                async with transaction(self.client) as session:
                    try:
                        await self.processed.insert_one(
                            {
                                "_id": marker,
                                "event_id": event.id,
                                "type": event.type,
                                "queue": self.queue_name,
                                "processed_at": utcnow(),
                            },
                            session=session,
                        )
                    except DuplicateKeyError:
                        raise _AlreadyProcessed from None
                    await self.handle(event, session)
                return True
            except _AlreadyProcessed:
                return False
            except Conflict:
                # A concurrent delivery of the same event (or another writer) won;
                # try again: we will either see the marker or succeed.
                if attempt == 5:
                    raise
        raise AssertionError("unreachable")

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, event: Event, exc: Exception
    ) -> None:
        raw_attempt = (message.headers or {}).get(RETRY_HEADER, 1)
        attempt = raw_attempt if isinstance(raw_attempt, int) else 1
        if attempt >= self.max_attempts:
            log.error(
                "event %s (%s) failed %d times on %s; dead-lettering: %s",
                event.id,
                event.type,
                attempt,
                self.queue_name,
                exc,
                exc_info=exc,
            )
            self.dead_lettered += 1
            await message.reject(requeue=False)
            return
        log.warning(
            "event %s (%s) failed on %s (attempt %d of %d), will retry: %s",
            event.id,
            event.type,
            self.queue_name,
            attempt,
            self.max_attempts,
            exc,
        )
        # Back off before the retry so a failing dependency gets a moment.
        await asyncio.sleep(min(self.retry_backoff * 2 ** (attempt - 1), self.retry_backoff_max))
        channel = self._channel
        if channel is None:
            await message.nack(requeue=True)
            return
        # Re-queue a copy on this queue only (not the whole exchange), counting
        # the attempt; then ack the original. A crash in between delivers twice,
        # which the processed marker absorbs.
        retry = aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            timestamp=message.timestamp,
            app_id=message.app_id,
            correlation_id=message.correlation_id,
            headers={**(message.headers or {}), RETRY_HEADER: attempt + 1},
        )
        try:
            await channel.default_exchange.publish(retry, routing_key=self.queue_name)
        except Exception:
            log.warning("could not re-queue event %s; leaving it to the broker", event.id)
            await message.nack(requeue=True)
            return
        await message.ack()
