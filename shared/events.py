"""Domain events: the envelope, the transactional outbox, its relay, idempotent consumers.

Publishing path: a use case writes its state change and ``Outbox.add`` in the
same Mongo transaction, then calls ``Outbox.notify()``. The ``OutboxRelay``
(one active per service database, chosen by a lease) publishes pending events
to the durable topic exchange with publisher confirms and marks them sent only
once the broker has confirmed. If RabbitMQ is down the events wait in Mongo
and go out when it is back. A crash between publish and mark-sent publishes an
event twice, so every consumer is idempotent: ``IdempotentConsumer`` records
each processed event id in ``processed_events`` inside the same transaction as
the handler's own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.clock import utcnow
from shared.errors import Conflict
from shared.logging import request_id_var
from shared.mongo import Database, IndexRegistry, MongoClient, transaction

log = logging.getLogger(__name__)

EVENT_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
OUTBOX_COLLECTION = "outbox"
PROCESSED_COLLECTION = "processed_events"
PENDING, SENT = "pending", "sent"


# --------------------------------------------------------------- envelope --
@dataclass(frozen=True, slots=True)
class Event:
    """What happened, to which aggregate, when, and who said so.

    ``payload`` holds JSON values only (amounts as integer minor units,
    rates and dates as strings) so the same dict travels through Mongo and AMQP.
    """

    type: str
    aggregate_id: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=utcnow)
    request_id: str = field(default_factory=request_id_var.get)
    producer: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        if not EVENT_TYPE_RE.fullmatch(self.type):
            raise ValueError(f"event type {self.type!r} must look like 'loan.disbursed'")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        json.dumps(self.payload)  # fail at the producer, not in the relay

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "aggregate_id": self.aggregate_id,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "payload": self.payload,
            "request_id": self.request_id,
            "producer": self.producer,
            "version": self.version,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        occurred = datetime.fromisoformat(str(data["occurred_at"]))
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        return cls(
            type=str(data["type"]),
            aggregate_id=str(data["aggregate_id"]),
            payload=dict(data.get("payload") or {}),
            id=str(data["id"]),
            occurred_at=occurred,
            request_id=str(data.get("request_id") or ""),
            producer=str(data.get("producer") or ""),
            version=int(data.get("version") or 1),
        )

    @classmethod
    def from_bytes(cls, body: bytes) -> Event:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("event body is not a JSON object")
        return cls.from_json(data)

    def to_message(self) -> aio_pika.Message:
        return aio_pika.Message(
            body=self.to_bytes(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=self.id,
            type=self.type,
            timestamp=self.occurred_at,
            app_id=self.producer or None,
            correlation_id=self.request_id or None,
            headers={"aggregate_id": self.aggregate_id},
        )


# ----------------------------------------------------------------- outbox --
def outbox_indexes(collection: str = OUTBOX_COLLECTION) -> IndexRegistry:
    """Indexes the outbox needs; merge into the service's IndexRegistry."""
    return IndexRegistry(
        {
            collection: [
                IndexModel([("status", ASCENDING), ("order", ASCENDING)], name="pending_in_order"),
                IndexModel(
                    [("aggregate_id", ASCENDING), ("order", ASCENDING)], name="by_aggregate"
                ),
            ]
        }
    )


class Outbox:
    """Stores events in the service's ``outbox`` collection, inside the caller's transaction."""

    def __init__(self, db: Database, producer: str, collection: str = OUTBOX_COLLECTION) -> None:
        self.db = db
        self.producer = producer
        self.collection = db[collection]
        self.lease_collection = db[f"{collection}_lease"]
        self._wakers: list[asyncio.Event] = []

    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Event:
        return Event(event_type, aggregate_id, payload, producer=self.producer)

    async def add(self, session: AsyncClientSession | None, events: Iterable[Event]) -> None:
        """Insert ``events`` with ``session`` so they commit or abort with the state change.

        Call ``notify()`` after the commit so the relay publishes at once
        (without it they go out on the relay's next poll).
        """
        docs = []
        for event in events:
            doc = {
                "_id": event.id,
                **{k: v for k, v in event.to_json().items() if k != "id"},
                "occurred_at": event.occurred_at,
                "producer": event.producer or self.producer,
                # ObjectIds grow with time and per process: a cheap publish order.
                "order": ObjectId(),
                "status": PENDING,
                "attempts": 0,
            }
            docs.append(doc)
        if docs:
            await self.collection.insert_many(docs, ordered=True, session=session)
            if session is None:
                self.notify()

    async def emit(
        self,
        event_type: str,
        aggregate_id: str,
        payload: dict[str, Any],
        session: AsyncClientSession | None = None,
    ) -> Event:
        """Record one event; without a session it is its own atomic write."""
        event = self.new_event(event_type, aggregate_id, payload)
        await self.add(session, [event])
        return event

    def notify(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def pending_count(self) -> int:
        return await self.collection.count_documents({"status": PENDING})

    def _register(self, waker: asyncio.Event) -> None:
        self._wakers.append(waker)

    def _unregister(self, waker: asyncio.Event) -> None:
        with contextlib.suppress(ValueError):
            self._wakers.remove(waker)


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Throttled:
    """Logs a recurring failure once per interval instead of on every attempt."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self._log = logger
        self._interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            if self._suppressed:
                message += f" ({self._suppressed} similar failures not logged)"
            self._log.warning(message, *args)
            self._last, self._suppressed = now, 0
        else:
            self._suppressed += 1

    def reset(self) -> None:
        self._last, self._suppressed = float("-inf"), 0


class OutboxRelay:
    """Publishes pending outbox events to RabbitMQ, in order, with publisher confirms.

    Only the relay holding the outbox lease publishes, so replicas of a
    service don't send the same event side by side. It polls every
    ``poll_interval`` seconds and also wakes on ``Outbox.notify()``.
    """

    def __init__(
        self,
        outbox: Outbox,
        amqp_url: str,
        exchange: str,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        lease_seconds: float = 15.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        publish_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        owner: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.amqp_url = amqp_url
        self.exchange_name = exchange
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.owner = owner or _default_owner()
        self.published = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._warn = _Throttled(log)
        # End of the lease this relay last took (None: not held). Renewed only once a fifth
        # of it has gone by, not before every batch: one write per few seconds, not per event.
        self._held_until: datetime | None = None

    # lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        self.outbox._register(self._wake)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.outbox.db.name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=self.publish_timeout + 5)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.outbox._unregister(self._wake)
        await self._release_lease()
        await self._disconnect()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # loop -------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = self.backoff_initial
        while not self._stopping.is_set():
            try:
                if not await self._hold_lease():
                    await self._wait(self.lease_seconds / 3, wakeable=False)
                    continue
                sent_all = await self._relay_batch()
                backoff = self.backoff_initial
                self._warn.reset()
                if sent_all:
                    # Nothing more was pending: wait for a notify or the next poll.
                    await self._wait(self.poll_interval, wakeable=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means "keep the events, try later"
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._warn.warning("outbox relay cannot publish (%s); will retry", self.last_error)
                await self._wait(backoff, wakeable=False)
                backoff = min(backoff * 2, self.backoff_max)

    async def _wait(self, seconds: float, *, wakeable: bool) -> None:
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if wakeable:
            self._wake.clear()

    async def _hold_lease(self) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_seconds)
        held = self._held_until
        if held is not None and held - now > timedelta(seconds=self.lease_seconds * 0.8):
            return True
        self._held_until = None
        try:
            await self.outbox.lease_collection.find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self.owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "until": until}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another relay holds a live lease
        self._held_until = until
        return True

    async def _release_lease(self) -> None:
        self._held_until = None
        with contextlib.suppress(PyMongoError):
            await self.outbox.lease_collection.update_one(
                {"_id": "relay", "owner": self.owner},
                {"$set": {"until": datetime(1970, 1, 1, tzinfo=UTC)}},
            )

    async def _ensure_exchange(self) -> AbstractExchange:
        connection = self._connection
        if self._exchange is not None and connection is not None and not connection.is_closed:
            return self._exchange
        await self._disconnect()
        connection = await aio_pika.connect_robust(
            self.amqp_url,
            timeout=self.connect_timeout,
            reconnect_interval=1.0,
            client_properties={"connection_name": f"outbox-relay {self.owner}"},
        )
        try:
            channel = await connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        log.info("outbox relay connected to RabbitMQ, exchange %s", self.exchange_name)
        return self._exchange

    async def _disconnect(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _relay_batch(self) -> bool:
        """Publish one batch; True when the outbox had no more than a batch pending."""
        cursor = (
            self.outbox.collection.find({"status": PENDING})
            .sort("order", ASCENDING)
            .limit(self.batch_size)
        )
        docs = await cursor.to_list(length=self.batch_size)
        if not docs:
            return True
        exchange = await self._ensure_exchange()
        events = [_event_from_doc(doc) for doc in docs]
        results = await asyncio.gather(
            *(
                exchange.publish(
                    event.to_message(),
                    routing_key=event.type,
                    mandatory=False,
                    timeout=self.publish_timeout,
                )
                for event in events
            ),
            return_exceptions=True,
        )
        outcomes = list(zip(events, results, strict=True))
        confirmed = [e.id for e, r in outcomes if isinstance(r, aiormq.spec.Basic.Ack)]
        failed = [(e.id, r) for e, r in outcomes if not isinstance(r, aiormq.spec.Basic.Ack)]
        if confirmed:
            await self.outbox.collection.update_many(
                {"_id": {"$in": confirmed}},
                {"$set": {"status": SENT, "sent_at": utcnow()}, "$inc": {"attempts": 1}},
            )
            self.published += len(confirmed)
        if failed:
            error = failed[0][1]
            await self.outbox.collection.update_many(
                {"_id": {"$in": [event_id for event_id, _ in failed]}},
                {"$inc": {"attempts": 1}, "$set": {"last_error": repr(error)[:500]}},
            )
            # The connection may be gone; reconnect on the next attempt.
            await self._disconnect()
            raise ConnectionError(f"{len(failed)} event(s) not confirmed: {error!r}")
        return len(docs) < self.batch_size


def _event_from_doc(doc: dict[str, Any]) -> Event:
    occurred = doc["occurred_at"]
    if isinstance(occurred, datetime) and occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return Event(
        type=doc["type"],
        aggregate_id=doc["aggregate_id"],
        payload=doc.get("payload") or {},
        id=str(doc["_id"]),
        occurred_at=occurred,
        request_id=doc.get("request_id") or "",
        producer=doc.get("producer") or "",
        version=int(doc.get("version") or 1),
    )


# --------------------------------------------------------------- consumer --
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
            log.warning("consumer %s cannot reach RabbitMQ yet (%s: %s); retrying",
                        self.queue_name, type(exc).__name__, exc)
            self._connector = asyncio.create_task(
                self._keep_connecting(), name=f"consumer-connect-{self.queue_name}"
            )

    async def _keep_connecting(self) -> None:
        backoff = 0.5
        warn = _Throttled(log)
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
        log.info("consuming %s from %s (%s)", self.queue_name, self.exchange_name,
                 ", ".join(self.routing_keys))

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
            log.error("dead-lettering malformed message %s on %s: %s",
                      message.message_id, self.queue_name, exc)
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
                event.id, event.type, attempt, self.queue_name, exc,
                exc_info=exc,
            )
            self.dead_lettered += 1
            await message.reject(requeue=False)
            return
        log.warning(
            "event %s (%s) failed on %s (attempt %d of %d), will retry: %s",
            event.id, event.type, self.queue_name, attempt, self.max_attempts, exc,
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


__all__ = [
    "OUTBOX_COLLECTION",
    "PROCESSED_COLLECTION",
    "Event",
    "Handler",
    "IdempotentConsumer",
    "Outbox",
    "OutboxRelay",
    "outbox_indexes",
    "processed_indexes",
]
