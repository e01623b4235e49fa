"""The outbox relay: publishes pending events to RabbitMQ, in order, with confirms."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractExchange,
    AbstractRobustConnection,
)
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.clock import utcnow
from shared.events.outbox import PENDING, SENT, Outbox, event_from_doc
from shared.logging import Throttled

# One logger for the whole package, under the name it always had.
log = logging.getLogger("shared.events")


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
        self._warn = Throttled(log)
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
        events = [event_from_doc(doc) for doc in docs]
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
