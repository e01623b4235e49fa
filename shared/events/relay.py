"""The outbox relay: publishes pending events to RabbitMQ, in order, with confirms."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractRobustConnection,
)
from pymongo import ASCENDING, UpdateOne
from pymongo.errors import PyMongoError

from shared.clock import utcnow
from shared.events.outbox import (
    EMBEDDED_FIELD,
    HOME,
    NEXT_FIELD,
    PENDING,
    SENT,
    Outbox,
    wire_of_doc,
)
from shared.lease import Lease, default_owner
from shared.logging import Throttled

# One logger for the whole package, under the name it always had.
log = logging.getLogger("shared.events")


class OutboxRelay:
    """Publishes outbox events to RabbitMQ, in order, with publisher confirms.

    Only the relay holding the outbox lease publishes, so replicas of a
    service don't send the same event side by side.

    Two ways in. Direct: the outbox hands over the documents of each transaction
    committed in this process (``committed``); the relay publishes them without reading
    them back, as long as it holds the lease and knows of no older pending event (its
    last read of the outbox found less than a batch, and nothing has failed or been
    missed since). Poll: at start, after a failure, whenever the direct way cannot be
    trusted, and every ``poll_interval`` seconds (stretched up to ``max_poll_interval``
    while reads find nothing), it reads pending events in outbox order (the events of
    other processes, unconfirmed ones, a crashed process's backlog).

    Confirmed events are marked sent in one ``update_many`` per ``mark_interval``
    (or per ``batch_size`` events), not one per publish; until then they stay in
    ``_inflight`` and the poll skips them. A crash in that window publishes them
    again, which idempotent consumers absorb (they dedupe by event id).
    """

    def __init__(
        self,
        outbox: Outbox,
        amqp_url: str,
        exchange: str,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        max_poll_interval: float = 4.0,
        mark_interval: float = 1.0,
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
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.mark_interval = mark_interval
        self.lease_seconds = lease_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.owner = owner or default_owner()
        self.published = 0  # confirmed by the broker, either way
        self.published_direct = 0  # of which handed over at commit, never read back
        self.polls = 0  # reads of the outbox (``find``)
        self.marks = 0  # mark-sent writes (``update_many``)
        self.failures = 0
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None  # the exchange is declared on it
        self._warn = Throttled(log)
        # Renewed only once a fifth of it has gone by, not before every batch: one write
        # per few seconds, not per event.
        self._lease = Lease(
            outbox.lease_collection, "relay", seconds=lease_seconds, owner=self.owner
        )
        # Committed in this process, not yet published (commit order).
        self._direct: collections.deque[dict[str, Any]] = collections.deque()
        self._max_direct = batch_size * 20
        # True while every pending event older than those in ``_direct`` is known to be
        # published or in flight: only then may ``_direct`` go out without a read.
        self._caught_up = False
        self._forgotten = 0  # how many times hand-overs were dropped
        # Published (or being published) and not yet marked sent: the poll skips them.
        self._inflight: set[str] = set()
        self._to_mark: list[str] = []
        # Where confirmed embedded events live, (collection, document id), until marked.
        self._homes: dict[str, tuple[str, Any]] = {}
        self._mark_due: float | None = None
        # Recently marked ids: a hand-over that lost the race with a poll is not sent again.
        self._recent: dict[str, None] = {}

    # lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        self._caught_up = False
        self.outbox._register(self._wake, self)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.outbox.db.name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.outbox._unregister(self._wake, self)
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=self.publish_timeout + 5)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._direct.clear()
        with contextlib.suppress(PyMongoError):
            await self._flush_marks(force=True)
        await self._release_lease()
        await self._disconnect()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # hand-over from the outbox (CommitSink) ---------------------------------
    def committed(self, docs: list[dict[str, Any]]) -> None:
        """Outbox documents just committed in this process: publish them without a read."""
        if not self._lease.held or len(self._direct) + len(docs) > self._max_direct:
            # Not ours to publish now, or too far behind: the poll finds them, in order,
            # and nothing goes out directly before it has.
            self._forget_direct()
        else:
            self._direct.extend(docs)
        self._wake.set()

    def uncertain(self) -> None:
        """A commit's outcome is unknown: its events, if any, are found by reading."""
        self._forget_direct()
        self._wake.set()

    def _forget_direct(self) -> None:
        self._direct.clear()
        self._caught_up = False
        self._forgotten += 1

    # loop -------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.backoff_initial
        next_poll = loop.time()
        interval = self.poll_interval
        while not self._stopping.is_set():
            try:
                if not await self._hold_lease():
                    self._forget_direct()
                    await self._flush_marks(force=True)
                    await self._wait(self.lease_seconds / 3, wakeable=False)
                    continue
                now = loop.time()
                if not self._caught_up or now >= next_poll:
                    forgotten = self._forgotten
                    found, news = await self._relay_pending()
                    # Less than a batch pending: every older event is now on its way,
                    # unless a hand-over was dropped while the read was under way.
                    self._caught_up = found < self.batch_size and forgotten == self._forgotten
                    # A read that finds nothing it was not handed already is worth less
                    # and less often: up to max_poll_interval; one that finds news, every
                    # poll_interval.
                    interval = (
                        self.poll_interval if news else min(interval * 2, self.max_poll_interval)
                    )
                    next_poll = now + interval
                elif self._direct:
                    await self._relay_direct()
                await self._flush_marks()
                backoff = self.backoff_initial
                self._warn.reset()
                if self._caught_up and not self._direct:
                    # Nothing more to send: wait for a hand-over, the next poll or mark.
                    due = next_poll if self._mark_due is None else min(next_poll, self._mark_due)
                    await self._wait(max(due - loop.time(), 0.0), wakeable=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means "keep the events, try later"
                self._forget_direct()
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._warn.warning("outbox relay cannot publish (%s); will retry", self.last_error)
                # What was confirmed before the failure is marked all the same, in its
                # window: an event that keeps failing must not hold back every mark.
                with contextlib.suppress(Exception):
                    await self._flush_marks()
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
        return await self._lease.hold()

    async def _release_lease(self) -> None:
        await self._lease.release()

    async def _ensure_channel(self) -> aiormq.Channel:
        """The confirming channel to publish on (aiormq's, under aio-pika's robust one:
        after a reconnect it is a new one), the exchange declared on it."""
        connection, channel = self._connection, self._channel
        if channel is None or connection is None or connection.is_closed:
            await self._disconnect()
            connection = await aio_pika.connect_robust(
                self.amqp_url,
                timeout=self.connect_timeout,
                reconnect_interval=1.0,
                client_properties={"connection_name": f"outbox-relay {self.owner}"},
            )
            try:
                channel = await connection.channel(publisher_confirms=True)
                await channel.declare_exchange(
                    self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
            except BaseException:
                await connection.close()
                raise
            self._connection, self._channel = connection, channel
            log.info("outbox relay connected to RabbitMQ, exchange %s", self.exchange_name)
        if channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")
        return cast(aiormq.Channel, await channel.get_underlay_channel())

    async def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _relay_pending(self) -> tuple[int, int]:
        """Read and publish one batch (pending, not in flight, in order) of each source.

        The outbox collection first, then each embedded outbox (documents by the order of
        their oldest unpublished event, each document's events in order). Returns how
        many it found (the most of any source), and how many it had not been handed over.
        """
        query: dict[str, Any] = {"status": PENDING}
        if self._inflight:
            query["_id"] = {"$nin": list(self._inflight)}
        self.polls += 1
        cursor = self.outbox.collection.find(query).sort("order", ASCENDING).limit(self.batch_size)
        docs = await cursor.to_list(length=self.batch_size)
        found = len(docs)
        for source in list(self.outbox.sources.values()):
            self.polls += 1
            cursor = (
                source.collection.find(
                    source.pending_query(self._inflight), {EMBEDDED_FIELD: 1, NEXT_FIELD: 1}
                )
                .sort(NEXT_FIELD, ASCENDING)
                .limit(self.batch_size)
            )
            parents = await cursor.to_list(length=self.batch_size)
            found = max(found, len(parents))
            for parent in parents:
                events = [
                    {**event, HOME: (source.name, parent["_id"])}
                    for event in parent.get(EMBEDDED_FIELD) or ()
                    if event.get("status") == PENDING
                    and event["_id"] not in self._inflight
                    and event["_id"] not in self._recent
                ]
                docs.extend(sorted(events, key=lambda event: event["order"]))
        if not docs:
            return found, 0
        handed = {doc["_id"] for doc in self._direct}
        news = sum(1 for doc in docs if doc["_id"] not in handed)
        await self._publish(docs)
        if len(docs) > news:
            # Sent by this read: not again when the hand-overs are drained (``_recent``
            # forgets, and a relay that polls often may drain them late).
            read = {doc["_id"] for doc in docs}
            self._direct = collections.deque(d for d in self._direct if d["_id"] not in read)
        return found, news

    async def _relay_direct(self) -> None:
        """Publish the next batch handed over at commit, in outbox order."""
        docs: list[dict[str, Any]] = []
        while self._direct and len(docs) < self.batch_size:
            doc = self._direct.popleft()
            if doc["_id"] not in self._inflight and doc["_id"] not in self._recent:
                docs.append(doc)
        if docs:
            docs.sort(key=lambda doc: doc["order"])
            self.published_direct += await self._publish(docs)

    async def _publish(self, docs: list[dict[str, Any]]) -> int:
        """Publish ``docs`` in order; queue the confirmed for marking; raise if any is not.

        Pipelined: every publish is written before any confirm is awaited, all under one
        deadline (``publish_timeout``). An event is marked sent only once the broker
        confirmed it and every earlier event of its aggregate in this batch: one that
        failed holds back the later ones of its aggregate (published, maybe delivered,
        but left pending, so they go out again after it, in order; consumers dedupe).
        """
        channel = await self._ensure_channel()
        ids = [str(doc["_id"]) for doc in docs]
        self._inflight.update(ids)
        for event_id, doc in zip(ids, docs, strict=True):
            if HOME in doc:
                self._homes[event_id] = doc[HOME]
        exchange = self.exchange_name
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[Any]] = []
        try:
            for doc in docs:
                body, properties = wire_of_doc(doc)
                # No timeout each (one timer per publish): the batch has one deadline.
                # wait=False: the frames go to the connection's writer; the confirm is
                # what counts, and the writer's bounded queue still holds a publisher back.
                publish = channel.basic_publish(
                    body,
                    exchange=exchange,
                    routing_key=doc["type"],
                    properties=properties,
                    mandatory=False,
                    wait=False,
                )
                tasks.append(loop.create_task(publish))
            _, late = await asyncio.wait(tasks, timeout=self.publish_timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        except BaseException:
            for task in tasks:
                task.cancel()
            self._inflight.difference_update(ids)
            raise
        confirmed, failed, held = _outcome(ids, docs, tasks)
        if confirmed:
            self._to_mark.extend(confirmed)
            if self._mark_due is None:
                self._mark_due = loop.time() + self.mark_interval
            self.published += len(confirmed)
        if failed or held:
            # Pending again: the next poll sends them (and nothing newer goes out before).
            self._inflight.difference_update(held)
            self._inflight.difference_update(event_id for event_id, _ in failed)
            for event_id in held:
                self._homes.pop(event_id, None)
            error = failed[0][1] if failed else None
            # Embedded events keep no failure count: the relay's last_error says it.
            counted = [i for i, _ in failed if self._homes.pop(i, None) is None]
            if counted:
                await self.outbox.collection.update_many(
                    {"_id": {"$in": counted}},
                    {"$inc": {"attempts": 1}, "$set": {"last_error": repr(error)[:500]}},
                )
            # The connection may be gone; reconnect on the next attempt.
            await self._disconnect()
            raise ConnectionError(
                f"{len(failed)} event(s) not confirmed, {len(held)} held back behind them: "
                f"{error!r}"
            )
        return len(confirmed)

    async def _flush_marks(self, *, force: bool = False) -> None:
        """Mark confirmed events sent, in one write, once the window is over (or it is full)."""
        if not self._to_mark:
            return
        due = self._mark_due
        full = len(self._to_mark) >= self.batch_size
        if not force and not full and due is not None and asyncio.get_running_loop().time() < due:
            return
        ids, self._to_mark, self._mark_due = self._to_mark, [], None
        try:
            await self._mark_sent(ids)
        except BaseException:
            # Still confirmed, still in flight: try again on the next round.
            self._to_mark = ids + self._to_mark
            self._mark_due = asyncio.get_running_loop().time()
            raise
        self._inflight.difference_update(ids)
        for event_id in ids:
            self._homes.pop(event_id, None)
            self._recent[event_id] = None
        while len(self._recent) > 4 * self.batch_size:
            del self._recent[next(iter(self._recent))]

    async def _mark_sent(self, ids: list[str]) -> None:
        """One write per source: ``update_many`` on the outbox collection, a ``bulk_write``
        on each collection with embedded events (mark them sent in place, or remove them
        where the source drops sent events, then drop ``outbox_next`` from the documents
        left with no pending event; an event pushed in between keeps it, so the poll
        still finds that document)."""
        now = utcnow()
        own = [i for i in ids if i not in self._homes]
        by_source: dict[str, dict[Any, list[str]]] = {}
        for event_id in ids:
            home = self._homes.get(event_id)
            if home is not None:
                by_source.setdefault(home[0], {}).setdefault(home[1], []).append(event_id)
        if own:
            await self.outbox.collection.update_many(
                {"_id": {"$in": own}},
                {"$set": {"status": SENT, "sent_at": now}, "$inc": {"attempts": 1}},
            )
            self.marks += 1
        for name, parents in by_source.items():
            source = self.outbox.sources.get(name)
            drop = source is not None and source.drop_sent
            writes: list[UpdateOne] = []
            for parent_id, event_ids in parents.items():
                if drop:  # sent events leave the document (it would grow with every event)
                    writes.append(
                        UpdateOne(
                            {"_id": parent_id},
                            {"$pull": {EMBEDDED_FIELD: {"_id": {"$in": event_ids}}}},
                        )
                    )
                else:
                    writes.append(
                        UpdateOne(
                            {"_id": parent_id},
                            {
                                "$set": {
                                    f"{EMBEDDED_FIELD}.$[e].status": SENT,
                                    f"{EMBEDDED_FIELD}.$[e].sent_at": now,
                                },
                                "$inc": {f"{EMBEDDED_FIELD}.$[e].attempts": 1},
                            },
                            array_filters=[{"e._id": {"$in": event_ids}, "e.status": PENDING}],
                        )
                    )
                writes.append(
                    UpdateOne(
                        {
                            "_id": parent_id,
                            NEXT_FIELD: {"$exists": True},
                            f"{EMBEDDED_FIELD}.status": {"$ne": PENDING},
                        },
                        {"$unset": {NEXT_FIELD: ""}},
                    )
                )
            await self.outbox.db[name].bulk_write(writes, ordered=True)
            self.marks += 1


def _failure(task: asyncio.Task[Any]) -> BaseException | None:
    """Why a publish did not end in a confirm (None: the broker confirmed it)."""
    if task.cancelled():
        return TimeoutError("no confirm before the publish timeout")
    error = task.exception()
    if error is not None:
        return error
    if isinstance(task.result(), aiormq.spec.Basic.Ack):
        return None
    return aiormq.exceptions.DeliveryError(None, task.result())


def _outcome(
    ids: list[str], docs: list[dict[str, Any]], tasks: list[asyncio.Task[Any]]
) -> tuple[list[str], list[tuple[str, BaseException | None]], list[str]]:
    """A batch's events as (confirmed, failed with their error, held back): an event is
    confirmed only if it and every earlier event of its aggregate in the batch were."""
    confirmed: list[str] = []
    failed: list[tuple[str, BaseException | None]] = []
    held: list[str] = []
    stopped: set[str] = set()  # aggregates with an unconfirmed event in this batch
    for event_id, doc, task in zip(ids, docs, tasks, strict=True):
        error = _failure(task)
        aggregate = doc["aggregate_id"]
        if error is None and aggregate not in stopped:
            confirmed.append(event_id)
            continue
        stopped.add(aggregate)
        if error is None:
            held.append(event_id)
        else:
            failed.append((event_id, error))
    return confirmed, failed, held
