"""Idempotent consumers: each event handled once, in the same transaction as its writes.

Batch mode (a ``batch_handler``, or ``handle_batch`` overridden): the messages already
delivered and waiting when the consumer is free (up to ``batch_max``) are handled together:
one ``find`` of their markers, one transaction of ``insert_many`` of the new markers and
the batch handler over the new events (queue order), then every message is acked. A batch
that fails is handled again one event at a time, so a poison event is retried and
dead-lettered alone while the others go through.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared import tracing
from shared.clock import utcnow
from shared.errors import Conflict, Unavailable
from shared.events.envelope import Event
from shared.logging import Throttled, request_id_var
from shared.mongo import Database, IndexRegistry, MongoClient, is_outage, transaction

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


def _database_down(exc: BaseException) -> bool:
    """Our MongoDB could not answer (raw, or as the Unavailable a transaction raises)."""
    return is_outage(exc) or (isinstance(exc, Unavailable) and is_outage(exc.__cause__))


class _Overlap(Exception):
    """A batch's marker insert met a marker written since its find (a concurrent delivery)."""


Handler = Callable[[Event, AsyncClientSession], Awaitable[None]]
# classic: one node's queue (the default); quorum: replicated over a RabbitMQ cluster
# (Raft), durable and never exclusive or auto-deleted, as quorum queues must be.
QueueType = Literal["classic", "quorum"]
BatchHandler = Callable[[list[Event], AsyncClientSession], Awaitable[None]]
RETRY_HEADER = "x-mf-attempt"
# When (epoch ms) an event's retries began meeting write conflicts, and how many it met.
CONFLICT_SINCE_HEADER = "x-mf-conflict-since"
CONFLICTS_HEADER = "x-mf-conflicts"
# Batch mode waits no timer: a batch is what was delivered by the time the consumer is
# free, plus what arrives within this many turns of the event loop (frames already read
# from the socket reach the consumer through two tasks each).
LINGER_TURNS = 3


class IdempotentConsumer:
    """Consumes events from a durable queue bound to ``routing_keys``; each event once.

    Override ``handle`` (or pass ``handler``). It runs inside a Mongo
    transaction together with the insert of the event id into
    ``processed_events``; pass the session to your writes so both commit or
    neither does. A redelivered event whose id is recorded is acked and
    skipped. A failing handler is retried ``max_attempts`` times with backoff,
    then the message is dead-lettered to ``<queue>.dead``. A write conflict says
    nothing about the event (another transaction holds the same documents: the
    unfinished one of a process killed while handling this very event stays open until
    MongoDB aborts it, 60 s by default), so conflicts are retried with backoff for
    ``conflict_patience`` seconds without counting as attempts. Messages are
    handled one at a time, in queue order, unless ``concurrency`` > 1.

    Batch mode: pass ``batch_handler`` (or override ``handle_batch``), which takes
    the events of a batch in queue order with the session. Messages delivered
    while the consumer is busy wait and are taken together, up to ``batch_max``
    (default ``prefetch``): one ``find`` of their markers (``$in``), one
    transaction of the new markers' ``insert_many`` and ``handle_batch`` over the
    events not processed yet, then every message of the batch is acked. No timer
    holds a message back: at low load a batch is one event, costing what it did.
    If the batch fails (the handler raises, conflicts persist, or a marker
    appeared meanwhile) nothing of it is committed and its events are handled
    again one at a time, each as ``handle_batch([event])`` with its own marker
    check, transaction, retries and dead-lettering: exactly the per-event path.
    ``handle_batch`` must therefore give the same result for a list of one.
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
        batch_handler: BatchHandler | None = None,
        batch_max: int | None = None,
        prefetch: int = 16,
        concurrency: int = 1,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        retry_backoff_max: float = 5.0,
        conflict_patience: float = 120.0,
        processed_collection: str = PROCESSED_COLLECTION,
        connect_timeout: float = 5.0,
        queue_type: QueueType = "classic",
        single_active: bool = False,
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
        self._batch_handler = batch_handler
        self.prefetch = prefetch
        self.batch_max = max(1, prefetch if batch_max is None else batch_max)
        # Delivered messages waiting for a batch (batch mode only), in delivery order.
        self._waiting: collections.deque[AbstractIncomingMessage] = collections.deque()
        # One at a time keeps the queue's order; projections that tolerate
        # reordering can raise it.
        self._slots: asyncio.Lock | asyncio.Semaphore = (
            asyncio.Lock() if concurrency <= 1 else asyncio.Semaphore(concurrency)
        )
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.conflict_patience = conflict_patience
        self.processed = db[processed_collection]
        self.connect_timeout = connect_timeout
        self.queue_type = queue_type
        # RabbitMQ's single active consumer: of the replicas consuming the queue, one gets
        # the messages (in queue order) and the others stand by until it goes away.
        self.single_active = single_active
        self.handled = 0
        self.skipped = 0
        self.dead_lettered = 0
        self.conflicted = 0  # retries after a write conflict (not counted as attempts)
        self.batches = 0  # transactions that committed more than one event
        self.outage_retries = 0  # events put back, uncounted, while the database was away
        self._warn_outage = Throttled(log)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def _type_arguments(self) -> dict[str, Any]:
        """The queue-type argument; none for classic, so existing queues still match.

        A queue cannot change type in place: redeclaring an existing queue with another
        type fails (PRECONDITION_FAILED), see docs/operations.md on migrating.
        """
        if self.queue_type == "classic":
            return {}
        return {"x-queue-type": self.queue_type}

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

    async def handle_batch(self, events: list[Event], session: AsyncClientSession) -> None:
        """Handle several events, in queue order, in one transaction (batch mode)."""
        if self._batch_handler is None:
            raise NotImplementedError("override handle_batch() or pass batch_handler=")
        await self._batch_handler(events, session)

    @property
    def batching(self) -> bool:
        """True when messages are taken in batches (a batch handler is set)."""
        return (
            self._batch_handler is not None
            or type(self).handle_batch is not IdempotentConsumer.handle_batch
        )

    @property
    def waiting(self) -> int:
        """Delivered messages waiting for the consumer to take them (batch mode)."""
        return len(self._waiting)

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
            dead = await channel.declare_queue(
                self.dead_letter_queue, durable=True, arguments=self._type_arguments()
            )
            await dead.bind(dlx, routing_key=self.queue_name)
            channel, queue = await self._declare_queue(connection, channel)
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

    async def _declare_queue(
        self, connection: AbstractRobustConnection, channel: AbstractRobustChannel
    ) -> tuple[AbstractRobustChannel, AbstractQueue]:
        """The queue, declared with its arguments. A queue declared before without single
        active consumer keeps its arguments (RabbitMQ cannot change them; deleting it would
        lose its messages): it is consumed as it is, with a warning. Any other difference
        (another queue type) fails as it always did."""
        arguments: dict[str, Any] = {
            **self._type_arguments(),
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.queue_name,
        }
        if not self.single_active:
            queue = await channel.declare_queue(self.queue_name, durable=True, arguments=arguments)
            return channel, queue
        try:
            queue = await channel.declare_queue(
                self.queue_name,
                durable=True,
                arguments={**arguments, "x-single-active-consumer": True},
            )
        except aiormq.exceptions.ChannelPreconditionFailed:
            # The refusal closed the channel: a new one, with the same settings, and the
            # declaration without the argument (which fails too if more differs).
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await channel.declare_queue(self.queue_name, durable=True, arguments=arguments)
            log.warning(
                "queue %s was declared without single active consumer; every replica "
                "consumes it side by side until it is deleted (with the services stopped) "
                "and declared again",
                self.queue_name,
            )
        return channel, queue

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
            if self.batching:
                self._waiting.append(message)
                async with self._slots:
                    await self._take_batch()
            else:
                async with self._slots:
                    await self._process(message)
        finally:
            if task is not None:
                self._inflight.discard(task)

    def _marker_id(self, event_id: str) -> str:
        # Per queue: two consumers in one database each process the event once.
        return f"{self.queue_name}:{event_id}"

    def _marker(self, event: Event, at: datetime) -> dict[str, Any]:
        """The processed marker of ``event``, stored with the handler's writes."""
        return {
            "_id": self._marker_id(event.id),
            "event_id": event.id,
            "type": event.type,
            "queue": self.queue_name,
            "processed_at": at,
        }

    async def _parse(self, message: AbstractIncomingMessage) -> Event | None:
        """The message's event; a malformed message is dead-lettered (None)."""
        try:
            return Event.from_bytes(message.body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "dead-lettering malformed message %s on %s: %s",
                message.message_id,
                self.queue_name,
                exc,
            )
            self.dead_lettered += 1
            await message.reject(requeue=False)
            return None

    async def _process(self, message: AbstractIncomingMessage) -> None:
        event = await self._parse(message)
        if event is not None:
            await self._process_event(message, event)

    def _span_attributes(self, event: Event) -> dict[str, Any]:
        """A consumer span's attributes (OpenTelemetry's messaging conventions)."""
        return {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.destination.name": self.exchange_name,
            "messaging.rabbitmq.destination.routing_key": event.type,
            "messaging.consumer.group.name": self.queue_name,
            "messaging.message.id": event.id,
        }

    async def _process_event(self, message: AbstractIncomingMessage, event: Event) -> None:
        if tracing.enabled:
            # A child of the request that wrote the event (its context rode in the headers).
            with tracing.span(
                f"process {event.type}",
                parent=message.headers,
                span_kind="consumer",
                attributes=self._span_attributes(event),
            ):
                await self._process_event_once(message, event)
            return
        await self._process_event_once(message, event)

    async def _process_event_once(self, message: AbstractIncomingMessage, event: Event) -> None:
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
        await self._ack(message)

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
                            self._marker(event, utcnow()), session=session
                        )
                    except DuplicateKeyError:
                        raise _AlreadyProcessed from None
                    if self.batching:
                        await self.handle_batch([event], session)
                    else:
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

    # batches ---------------------------------------------------------------
    async def _take_batch(self) -> None:
        """Take the waiting messages (up to ``batch_max``) and handle them as one batch.

        Every waiting message has a task queued on the slots, so a task whose
        own message an earlier batch took finds less (or nothing) and returns.
        """
        for _ in range(LINGER_TURNS):
            if not self._waiting or len(self._waiting) >= self.batch_max:
                break
            await asyncio.sleep(0)  # one loop turn, no timer: let delivered frames arrive
        messages: list[AbstractIncomingMessage] = []
        while self._waiting and len(messages) < self.batch_max:
            messages.append(self._waiting.popleft())
        if messages:
            await self._process_batch(messages)

    async def _process_batch(self, messages: list[AbstractIncomingMessage]) -> None:
        batch: list[tuple[AbstractIncomingMessage, Event]] = []
        for message in messages:
            event = await self._parse(message)
            if event is not None:
                batch.append((message, event))
        if len(batch) <= 1:
            for message, event in batch:
                await self._process_event(message, event)
            return
        if tracing.enabled:
            with contextlib.ExitStack() as spans:
                # One span per event, each a child of the request that wrote it, over the
                # one transaction; none is current (they belong to different traces).
                traced = [
                    spans.enter_context(
                        tracing.span(
                            f"process {event.type}",
                            parent=message.headers,
                            span_kind="consumer",
                            attributes={
                                **self._span_attributes(event),
                                "messaging.batch.message_count": len(batch),
                            },
                            current=False,
                        )
                    )
                    for message, event in batch
                ]
                handled = await self._try_batch(batch)
                if handled is None:
                    for span in traced:
                        tracing.fail(span, "the batch failed; its events went one at a time")
        else:
            handled = await self._try_batch(batch)
        if handled is not None:
            for (message, _), fresh in zip(batch, handled, strict=True):
                if fresh:
                    self.handled += 1
                else:
                    self.skipped += 1
                await self._ack(message)
            return
        # Nothing of the batch committed: each event on its own, with its own retries.
        for message, event in batch:
            await self._process_event(message, event)

    async def _try_batch(
        self, batch: list[tuple[AbstractIncomingMessage, Event]]
    ) -> list[bool] | None:
        """``_handle_batch_once`` over ``batch``; None if it failed (nothing committed)."""
        try:
            return await self._handle_batch_once([event for _, event in batch])
        except _Overlap:
            log.info(
                "a batch of %d on %s met events processed meanwhile; one at a time",
                len(batch),
                self.queue_name,
            )
        except Exception as exc:
            log.warning(
                "a batch of %d on %s failed (%s: %s); handling its events one at a time",
                len(batch),
                self.queue_name,
                type(exc).__name__,
                exc,
            )
        return None

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        """Ack, unless the channel it came on is gone (the connection dropped since): then
        the broker delivers it again and its marker skips it. Raising instead would leave
        the rest of a batch unacked, each holding a prefetch slot until the queue stalls."""
        try:
            await message.ack()
        except (ChannelInvalidStateError, AMQPError, ConnectionError) as exc:
            log.info("could not ack %s on %s (%s); it comes again", message.message_id,
                     self.queue_name, type(exc).__name__)

    async def _handle_batch_once(self, events: list[Event]) -> list[bool]:
        """Handle the events not processed yet in one transaction; which ones were new.

        Raises ``_Overlap`` if a marker was written between the find and the insert,
        and whatever the handler raises; then nothing was committed.
        """
        markers = [self._marker_id(event.id) for event in events]
        cursor = self.processed.find({"_id": {"$in": list(set(markers))}}, {"_id": 1})
        seen = {str(doc["_id"]) async for doc in cursor}
        new: list[bool] = []
        for marker in markers:
            # A copy of an event within the batch counts as a redelivery too.
            new.append(marker not in seen)
            seen.add(marker)
        fresh = [event for event, is_new in zip(events, new, strict=True) if is_new]
        if not fresh:
            return new
        now = utcnow()
        for attempt in range(1, 6):
            try:
                async with transaction(self.client) as session:
                    try:
                        await self.processed.insert_many(
                            [self._marker(event, now) for event in fresh], session=session
                        )
                    except BulkWriteError as exc:
                        if any(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
                            raise _Overlap from None
                        raise
                    except DuplicateKeyError:
                        raise _Overlap from None
                    await self.handle_batch(fresh, session)
            except Conflict:
                # A concurrent delivery (or another writer) won; the next attempt
                # either succeeds or meets the marker (_Overlap).
                if attempt == 5:
                    raise
                continue
            self.batches += 1
            return new
        raise AssertionError("unreachable")

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, event: Event, exc: Exception
    ) -> None:
        raw_attempt = (message.headers or {}).get(RETRY_HEADER, 1)
        attempt = raw_attempt if isinstance(raw_attempt, int) else 1
        if _database_down(exc):
            # Not the event's fault: our own MongoDB is away (restarting). Retried as long
            # as that lasts, not counted, so an outage longer than the retries does not
            # dead-letter every event that arrived during it.
            self._warn_outage.warning(
                "%s cannot reach its database (%s); event %s waits, not counted as a failure",
                self.queue_name, type(exc).__name__, event.id,
            )
            self.outage_retries += 1
            await self._requeue(message, event, attempt, pause=self._outage_pause())
            return
        if isinstance(exc, Conflict) and (patience := self._conflict_patience(message)):
            # Not the event's fault: another transaction holds its documents (see the class
            # docstring). Retried without counting, the backoff growing.
            conflicts, since = patience
            self.conflicted += 1
            log.info(
                "event %s (%s) met a write conflict on %s (%d so far), will retry: %s",
                event.id, event.type, self.queue_name, conflicts + 1, exc,
            )
            pause = min(self.retry_backoff * 2**conflicts, self.retry_backoff_max)
            await self._requeue(message, event, attempt, pause=pause, headers={
                CONFLICT_SINCE_HEADER: since, CONFLICTS_HEADER: conflicts + 1,
            })
            return
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
        pause = min(self.retry_backoff * 2 ** (attempt - 1), self.retry_backoff_max)
        await self._requeue(message, event, attempt + 1, pause=pause)

    def _outage_pause(self) -> float:
        return min(self.retry_backoff_max, max(1.0, self.retry_backoff * 4))

    def _conflict_patience(self, message: AbstractIncomingMessage) -> tuple[int, int] | None:
        """(conflicts so far, when they began in epoch ms) while conflicts may still be
        retried without counting; None once ``conflict_patience`` has run out."""
        headers = message.headers or {}
        now = int(time.time() * 1000)
        since, conflicts = headers.get(CONFLICT_SINCE_HEADER), headers.get(CONFLICTS_HEADER)
        since = since if isinstance(since, int) else now
        conflicts = conflicts if isinstance(conflicts, int) else 0
        if now - since >= self.conflict_patience * 1000:
            return None
        return conflicts, since

    async def _requeue(
        self,
        message: AbstractIncomingMessage,
        event: Event,
        attempt: int,
        *,
        pause: float,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """After ``pause``, a copy of ``message`` on this queue carrying ``attempt`` (and
        ``headers``)."""
        await asyncio.sleep(pause)
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
            headers={**(message.headers or {}), **(headers or {}), RETRY_HEADER: attempt},
        )
        try:
            await channel.default_exchange.publish(retry, routing_key=self.queue_name)
        except Exception:
            log.warning("could not re-queue event %s; leaving it to the broker", event.id)
            await message.nack(requeue=True)
            return
        await message.ack()
