from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import pytest
from aiormq.exceptions import ChannelInvalidStateError
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from microfinance_cli.backends import free_port
from shared.clock import utcnow
from shared.errors import Conflict
from shared.events import (
    Event,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    outbox_indexes,
    processed_indexes,
)
from shared.mongo import run_in_transaction, transaction
from tests.integration.support import Commands, TcpProxy, eventually

pytestmark = pytest.mark.integration


def _via(amqp_url: str, port: int) -> str:
    parts = urlsplit(amqp_url)
    auth = f"{parts.username}:{parts.password}@" if parts.username else ""
    return f"amqp://{auth}127.0.0.1:{port}{parts.path or '/'}"



class Listener:
    """A plain queue bound to the test exchange, recording what arrives."""

    def __init__(self) -> None:
        self.messages: list[aio_pika.abc.AbstractIncomingMessage] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self, amqp_url: str, exchange: str, queue: str, key: str = "#") -> Listener:
        self._connection = await aio_pika.connect(amqp_url, timeout=5)
        channel = await self._connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await channel.declare_queue(queue, durable=True)
        await q.bind(ex, routing_key=key)
        await q.consume(self._on_message, no_ack=True)
        return self

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.messages.append(message)

    @property
    def ids(self) -> list[str | None]:
        return [m.message_id for m in self.messages]

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


async def _status(outbox: Outbox, event_id: str) -> str | None:
    doc = await outbox.collection.find_one({"_id": event_id})
    return None if doc is None else doc["status"]


def test_event_envelope_round_trip() -> None:
    event = Event("loan.disbursed", "loan-1", {"amount_minor": 150_000, "currency": "KES"},
                  producer="loan_service", request_id="req-1")
    again = Event.from_bytes(event.to_bytes())
    assert again == event
    message = event.to_message()
    assert message.message_id == event.id
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert json.loads(message.body)["type"] == "loan.disbursed"
    with pytest.raises(ValueError, match=r"loan\.disbursed"):
        Event("LoanDisbursed", "x", {})
    with pytest.raises(TypeError):
        Event("loan.disbursed", "x", {"when": object()})


async def test_aborted_transaction_leaves_neither_state_nor_event(mongo_client, mongo_db) -> None:
    await outbox_indexes().apply(mongo_db)
    outbox = Outbox(mongo_db, producer="loan_service")

    async def disburse(fail: bool) -> None:
        async with transaction(mongo_client) as session:
            await mongo_db.loans.update_one(
                {"_id": "L1"}, {"$set": {"status": "ACTIVE"}}, upsert=True, session=session
            )
            await outbox.add(session, [outbox.new_event("loan.disbursed", "L1", {"n": 1})])
            if fail:
                raise RuntimeError("ledger check failed after the writes")

    with pytest.raises(RuntimeError):
        await disburse(fail=True)
    assert await mongo_db.loans.count_documents({}) == 0
    assert await outbox.pending_count() == 0

    await disburse(fail=False)
    assert await mongo_db.loans.count_documents({"status": "ACTIVE"}) == 1
    assert await outbox.pending_count() == 1


async def test_relay_publishes_in_order_with_confirms(
    mongo_db, amqp_url, amqp_names
) -> None:
    outbox = Outbox(mongo_db, producer="payment_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.2)
    await relay.start()
    try:
        events = [outbox.new_event("payment.posted", f"P{i}", {"i": i}) for i in range(25)]
        await outbox.add(None, events)
        await eventually(lambda: len(listener.messages) >= 25, what="25 events delivered")
        assert listener.ids == [e.id for e in events]
        first = listener.messages[0]
        assert first.routing_key == "payment.posted"
        assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert Event.from_bytes(first.body) == events[0]
        await eventually(lambda: _drained(outbox), what="all marked sent")
        assert await _status(outbox, events[-1].id) == "sent"
    finally:
        await relay.stop()
        await listener.close()


async def test_relay_renews_its_lease_only_as_it_ages(mongo_db, amqp_url, amqp_names) -> None:
    """One lease write per few seconds, not one per event: events one at a time all go out
    under the lease taken first."""
    outbox = Outbox(mongo_db, producer="payment_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, lease_seconds=60)
    await relay.start()
    try:
        first = outbox.new_event("payment.posted", "P0", {})
        await outbox.add(None, [first])
        await eventually(lambda: _is_sent(outbox, first.id), what="first sent")
        lease = await outbox.lease_collection.find_one({"_id": "relay"})
        assert lease is not None
        for i in range(1, 6):
            event = outbox.new_event("payment.posted", f"P{i}", {})
            await outbox.add(None, [event])
            await eventually(partial(_is_sent, outbox, event.id), what=f"event {i} sent")
        assert await outbox.lease_collection.find_one({"_id": "relay"}) == lease
        assert relay.published == 6
    finally:
        await relay.stop()
        await listener.close()
    # Stopping still hands the lease back at once.
    released = await outbox.lease_collection.find_one({"_id": "relay"})
    assert released is not None
    assert released["until"].year == 1970


async def test_relay_publishes_after_rabbitmq_comes_back(
    mongo_db, amqp_url, amqp_names
) -> None:
    broker = urlsplit(amqp_url)
    proxy = await TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(
        outbox, _via(amqp_url, proxy.port), amqp_names.exchange,
        poll_interval=0.2, backoff_initial=0.1, backoff_max=0.5,
        publish_timeout=2.0, connect_timeout=2.0,
    )
    await relay.start()
    try:
        before = await outbox.emit("loan.approved", "L1", {"step": 1})
        await eventually(lambda: before.id in listener.ids, what="first event delivered")

        await proxy.cut()  # RabbitMQ "goes down"
        during = await outbox.emit("loan.disbursed", "L1", {"step": 2})
        failures = relay.failures
        await eventually(lambda: relay.failures > failures, within=30, what="a failed attempt")
        assert await _status(outbox, during.id) == "pending"
        assert during.id not in listener.ids

        await proxy.restore()  # ... and comes back
        await eventually(lambda: during.id in listener.ids, within=30, what="event after recovery")
        await eventually(lambda: _is_sent(outbox, during.id), what="marked sent after confirm")
    finally:
        await relay.stop()
        await listener.close()
        await proxy.close()


async def _drained(outbox: Outbox) -> bool:
    return await outbox.pending_count() == 0


async def _is_sent(outbox: Outbox, event_id: str) -> bool:
    return await _status(outbox, event_id) == "sent"


async def test_relay_keeps_events_while_broker_unreachable_then_another_relay_sends(
    mongo_db, amqp_url, amqp_names
) -> None:
    outbox = Outbox(mongo_db, producer="user_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    down = OutboxRelay(
        outbox, f"amqp://guest:guest@127.0.0.1:{free_port()}/", amqp_names.exchange,
        poll_interval=0.1, backoff_initial=0.05, backoff_max=0.2, connect_timeout=1.0,
    )
    await down.start()
    event = await outbox.emit("borrower.registered", "B1", {"name": "Amina"})
    try:
        await eventually(lambda: down.failures >= 2, what="relay retrying")
        assert down.last_error is not None
        assert await _status(outbox, event.id) == "pending"
    finally:
        await down.stop()  # releases its lease

    up = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.1)
    await up.start()
    try:
        await eventually(lambda: event.id in listener.ids, what="event published")
        await eventually(lambda: _is_sent(outbox, event.id), what="marked sent")
    finally:
        await up.stop()
        await listener.close()


async def test_two_relays_do_not_both_publish(mongo_db, amqp_url, amqp_names) -> None:
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relays = [
        OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.1, owner=f"r{i}")
        for i in range(2)
    ]
    for relay in relays:
        await relay.start()
    try:
        await outbox.add(None, [outbox.new_event("loan.repaid", f"L{i}", {}) for i in range(20)])
        await eventually(lambda: len(listener.messages) >= 20, what="20 delivered")
        await eventually(lambda: _drained(outbox), what="all sent")
        assert sum(r.published for r in relays) == 20
        assert len(set(listener.ids)) == len(listener.ids) == 20
    finally:
        for relay in relays:
            await relay.stop()
        await listener.close()


# ------------------------------------------------ direct publish after commit --
async def _commit_events(mongo_client, outbox: Outbox, events: list[Event]) -> None:
    async def body(session) -> None:
        await outbox.add(session, events)

    # The stand-in may report concurrent outbox writes as conflicts: retried, as services do.
    await run_in_transaction(mongo_client, body, attempts=50)
    outbox.notify()


async def _idle_after_first_poll(relay: OutboxRelay) -> None:
    await eventually(lambda: relay.polls >= 1 and relay._caught_up, what="first poll done")


async def test_committed_events_go_out_without_reading_the_outbox(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """The relay publishes what this process commits straight away: no ``find``; an
    aborted transaction's events never go out; marking waits for the window, and the
    poll never sends an event that is published but not marked yet."""
    outbox = Outbox(mongo_db, producer="payment_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=60,
                        mark_interval=60)
    await relay.start()
    try:
        await _idle_after_first_poll(relay)
        polls = relay.polls
        sent: list[Event] = []
        for i in range(10):
            event = outbox.new_event("payment.posted", f"P{i}", {"i": i})
            sent.append(event)
            await _commit_events(mongo_client, outbox, [event])
            await eventually(partial(lambda e: e.id in listener.ids, event),
                             what=f"event {i} delivered")

        async def rolled_back() -> None:
            async with transaction(mongo_client) as session:
                await outbox.add(session, [outbox.new_event("payment.posted", "PX", {})])
                raise RuntimeError("rolled back after the write")

        with pytest.raises(RuntimeError):
            await rolled_back()
        outbox.notify()
        last = outbox.new_event("payment.posted", "P10", {"i": 10})
        sent.append(last)
        await _commit_events(mongo_client, outbox, [last])
        await eventually(lambda: last.id in listener.ids, what="event after the abort")
        assert listener.ids == [e.id for e in sent]
        assert relay.polls == polls  # not one read of the outbox
        assert relay.published == relay.published_direct == 11
        # Confirmed but not marked yet (the window is a minute): still pending in Mongo.
        assert relay.marks == 0
        assert await outbox.pending_count() == 11
    finally:
        await relay.stop()
        await listener.close()
    # Stopping marks them, in one write.
    assert relay.marks == 1
    assert await outbox.pending_count() == 0
    assert len(listener.ids) == 11

    # The poll skips events published and not marked: nothing goes out twice.
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue("2"))
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.05,
                        max_poll_interval=0.05, mark_interval=60)
    await relay.start()
    try:
        await _idle_after_first_poll(relay)
        events = [outbox.new_event("payment.posted", f"Q{i}", {}) for i in range(5)]
        await _commit_events(mongo_client, outbox, events)
        await eventually(lambda: len(listener.ids) >= 5, what="5 delivered")
        polls = relay.polls
        await eventually(lambda: relay.polls >= polls + 5, what="five more polls")
        assert listener.ids == [e.id for e in events]
        assert relay.published == 5
        assert await outbox.pending_count() == 5  # not marked yet, and not sent again
    finally:
        await relay.stop()
        await listener.close()
    assert await outbox.pending_count() == 0


async def test_after_an_unknown_commit_the_outbox_is_read_before_anything_goes_direct(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """A commit whose answer was lost may have committed its event without handing it over;
    a later event of the same aggregate must not overtake it."""
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=60)
    await relay.start()
    try:
        await _idle_after_first_poll(relay)
        polls = relay.polls
        lost = outbox.new_event("loan.repaid", "L1", {"n": 1})

        async def commit_lost() -> None:
            async with transaction(mongo_client) as session:
                await outbox.add(session, [lost])
                real_commit = session.commit_transaction

                async def committed_but_no_answer() -> None:
                    await real_commit()
                    raise PyMongoError("connection closed during commitTransaction")

                session.commit_transaction = committed_but_no_answer  # type: ignore[method-assign]

        with pytest.raises(PyMongoError):
            await commit_lost()
        later = outbox.new_event("loan.closed", "L1", {"n": 2})
        await _commit_events(mongo_client, outbox, [later])
        await eventually(lambda: later.id in listener.ids, what="later event delivered")
        assert listener.ids == [lost.id, later.id]
        assert relay.polls > polls
    finally:
        await relay.stop()
        await listener.close()


async def test_a_failed_publish_in_a_pipelined_batch_holds_back_its_aggregate(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """One batch, published without waiting for each confirm in turn: one publish fails
    (its routing key is longer than AMQP allows, so the client refuses it after the
    earlier ones were written). The events of other aggregates, before and after it, are
    marked; it and the later events of its aggregate stay pending even where the broker
    confirmed them, and go out again after it, in order, once it can be sent."""
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(
        outbox, amqp_url, amqp_names.exchange, poll_interval=0.05, max_poll_interval=0.05,
        mark_interval=0.05, backoff_initial=0.05, backoff_max=0.2,
    )  # fmt: skip
    await relay.start()
    try:
        await _idle_after_first_poll(relay)
        a1 = outbox.new_event("loan.repaid", "A", {"n": 1})
        b1 = outbox.new_event("loan.repaid", "B", {"n": 1})
        a2 = outbox.new_event("loan.r" + "x" * 300, "A", {"n": 2})  # cannot be published
        b2 = outbox.new_event("loan.repaid", "B", {"n": 2})
        a3 = outbox.new_event("loan.repaid", "A", {"n": 3})
        b3 = outbox.new_event("loan.repaid", "B", {"n": 3})
        await _commit_events(mongo_client, outbox, [a1, b1, a2, b2, a3, b3])
        good = [a1, b1, b2, b3]
        await eventually(lambda: relay.failures >= 3, what="three failed attempts")
        for event in good:
            await eventually(partial(_is_sent, outbox, event.id), what="others marked")
        # Marked only once confirmed: each marked event reached the queue.
        assert {e.id for e in good} <= set(listener.ids)
        # a3 was published, and confirmed, every time; it waits for a2 all the same.
        await eventually(lambda: listener.ids.count(a3.id) >= 2, what="a3 sent again")
        assert await _status(outbox, a2.id) == "pending"
        assert await _status(outbox, a3.id) == "pending"
        assert a2.id not in listener.ids
        assert relay.published == 4

        # The cause goes away: a2, then a3 again, and both are marked.
        await outbox.collection.update_one({"_id": a2.id}, {"$set": {"type": "loan.repaid"}})
        await eventually(partial(_is_sent, outbox, a3.id), what="a3 marked at last")
        assert await _status(outbox, a2.id) == "sent"
        ids = listener.ids
        last_a3 = len(ids) - 1 - ids[::-1].index(a3.id)
        assert ids.index(a1.id) < ids.index(a2.id) < last_a3
        assert [i for i in ids if i in (b1.id, b2.id, b3.id)] == [b1.id, b2.id, b3.id]
        attempts = {
            d["_id"]: d["attempts"]
            async for d in outbox.collection.find({"_id": {"$in": [a2.id, a3.id]}})
        }
        assert attempts[a2.id] >= 3  # its failures are counted
        assert attempts[a3.id] == 1  # held back is no failure: only its mark
    finally:
        await relay.stop()
        await listener.close()


async def test_order_per_aggregate_holds_with_concurrent_writers(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """Many writers, a few aggregates, rolled-back attempts and polls in between: each
    aggregate's events arrive once each, in commit order."""
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.05,
                        mark_interval=0.1, batch_size=8)
    aggregates = [f"L{i}" for i in range(4)]
    locks = {a: asyncio.Lock() for a in aggregates}  # the service's per-aggregate lock
    per_aggregate = 30

    async def write(aggregate: str, writer: int) -> None:
        for n in range(per_aggregate // 3):
            async with locks[aggregate]:
                counter = await mongo_db.counters.find_one({"_id": aggregate}) or {}
                seq = int(counter.get("seq", 0)) + 1
                if (writer + n) % 4 == 0:  # a rolled-back attempt first
                    with contextlib.suppress(RuntimeError, Conflict):
                        async with transaction(mongo_client) as session:
                            await outbox.add(session, [
                                outbox.new_event("loan.repaid", aggregate, {"seq": -seq})])
                            raise RuntimeError("abort")

                async def body(session, aggregate: str = aggregate, seq: int = seq) -> None:
                    await mongo_db.counters.update_one(
                        {"_id": aggregate}, {"$set": {"seq": seq}}, upsert=True,
                        session=session)
                    await outbox.add(session, [
                        outbox.new_event("loan.repaid", aggregate, {"seq": seq})])

                # Concurrent writers may conflict: retried, each attempt with new events.
                await run_in_transaction(mongo_client, body, attempts=50)
                outbox.notify()

    await relay.start()
    try:
        async with asyncio.TaskGroup() as writers:  # one failing cancels the others
            for a in aggregates:
                for w in range(3):
                    writers.create_task(write(a, w))
        total = len(aggregates) * per_aggregate
        await eventually(lambda: len(listener.messages) >= total, what="all delivered")
        await eventually(lambda: _drained(outbox), what="all marked sent")
        seen: dict[str, list[int]] = {a: [] for a in aggregates}
        for message in listener.messages:
            event = Event.from_bytes(message.body)
            seen[event.aggregate_id].append(event.payload["seq"])
        for aggregate in aggregates:
            assert seen[aggregate] == list(range(1, per_aggregate + 1)), aggregate
        assert len(listener.messages) == total
        assert relay.published_direct > 0
    finally:
        await relay.stop()
        await listener.close()


async def test_events_committed_while_rabbitmq_is_down_go_out_in_order_after(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    broker = urlsplit(amqp_url)
    proxy = await TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    outbox = Outbox(mongo_db, producer="loan_service")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(
        outbox, _via(amqp_url, proxy.port), amqp_names.exchange,
        poll_interval=60, mark_interval=0.1, backoff_initial=0.1, backoff_max=0.5,
        publish_timeout=2.0, connect_timeout=2.0,
    )
    await relay.start()
    try:
        await _idle_after_first_poll(relay)
        first = outbox.new_event("loan.approved", "L1", {"step": 0})
        await _commit_events(mongo_client, outbox, [first])
        await eventually(lambda: first.id in listener.ids, what="first event delivered")
        assert relay.published_direct == 1

        await proxy.cut()
        during = [outbox.new_event("loan.repaid", "L1", {"step": i}) for i in range(1, 4)]
        failures = relay.failures
        for event in during:
            await _commit_events(mongo_client, outbox, [event])
        await eventually(lambda: relay.failures > failures, within=30, what="a failed attempt")
        for event in during:
            assert await _status(outbox, event.id) == "pending"

        await proxy.restore()
        after = outbox.new_event("loan.closed", "L1", {"step": 4})
        await _commit_events(mongo_client, outbox, [after])
        await eventually(lambda: after.id in listener.ids, within=30, what="all after recovery")
        await eventually(lambda: _drained(outbox), what="all marked sent")
        assert listener.ids == [e.id for e in [first, *during, after]]
        assert relay.polls >= 2  # the pending ones were read back, not lost
    finally:
        await relay.stop()
        await listener.close()
        await proxy.close()


async def test_replicas_share_an_outbox_and_only_the_lease_holder_publishes(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """Two processes' outboxes and relays on one database: the holder publishes its own
    events directly and the other's by polling; every event goes out exactly once."""
    outboxes = [Outbox(mongo_db, producer="loan_service") for _ in range(2)]
    relays = [
        OutboxRelay(o, amqp_url, amqp_names.exchange, poll_interval=0.1,
                    max_poll_interval=0.4, mark_interval=0.1,
                    lease_seconds=30, owner=f"replica{i}")
        for i, o in enumerate(outboxes)
    ]
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    for relay in relays:
        await relay.start()

    async def write(outbox: Outbox, prefix: str) -> list[str]:
        ids = []
        for i in range(15):
            event = outbox.new_event("loan.repaid", f"{prefix}{i % 3}", {"i": i})
            ids.append(event.id)
            await _commit_events(mongo_client, outbox, [event])
        return ids

    try:
        written = await asyncio.gather(*(write(o, f"R{i}-") for i, o in enumerate(outboxes)))
        expected = {event_id for ids in written for event_id in ids}
        await eventually(lambda: set(listener.ids) >= expected, what="all delivered")
        await eventually(lambda: _drained(outboxes[0]), what="all marked sent")
        assert len(listener.ids) == len(expected) == 30  # none twice
        holder, other = sorted(relays, key=lambda r: r.published, reverse=True)
        assert (holder.published, other.published) == (30, 0)
        assert other.polls == 0  # never held the lease, never read
        assert holder.published_direct >= 1
        # Per aggregate, each replica's events keep their order.
        for ids in written:
            assert [i for i in listener.ids if i in ids] == ids
    finally:
        for relay in relays:
            await relay.stop()
        await listener.close()


# --------------------------------------------------------------- consumer --
async def _publish(amqp_url: str, exchange: str, event: Event, copies: int = 1) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for _ in range(copies):
            await ex.publish(event.to_message(), routing_key=event.type)
    finally:
        await connection.close()


def _consumer(
    mongo_client, mongo_db, amqp_url, amqp_names, handler, **kw: Any
) -> IdempotentConsumer:
    return IdempotentConsumer(
        client=mongo_client, db=mongo_db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=amqp_names.queue("consumer"), routing_keys=["loan.*"], handler=handler, **kw,
    )


async def test_consumer_ignores_a_redelivered_event(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    await processed_indexes().apply(mongo_db)
    calls: list[str] = []

    async def project(event: Event, session) -> None:
        calls.append(event.id)
        await mongo_db.portfolio.update_one(
            {"_id": "totals"}, {"$inc": {"disbursed": event.payload["amount_minor"]}},
            upsert=True, session=session,
        )

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, project)
    await consumer.start()
    try:
        event = Event("loan.disbursed", "L1", {"amount_minor": 5_000}, producer="loan_service")
        await _publish(amqp_url, amqp_names.exchange, event, copies=2)  # same message id twice
        await eventually(lambda: consumer.handled + consumer.skipped >= 2, what="both copies")
        assert calls == [event.id]
        assert (consumer.handled, consumer.skipped) == (1, 1)
        totals = await mongo_db.portfolio.find_one({"_id": "totals"})
        assert totals["disbursed"] == 5_000
        assert await mongo_db.processed_events.count_documents({"event_id": event.id}) == 1

        other = Event("loan.disbursed", "L2", {"amount_minor": 7}, producer="loan_service")
        await _publish(amqp_url, amqp_names.exchange, other)
        await eventually(lambda: consumer.handled == 2, what="a new event is handled")
        totals = await mongo_db.portfolio.find_one({"_id": "totals"})
        assert totals["disbursed"] == 5_007
    finally:
        await consumer.stop()


async def test_single_active_consumer_replicas_take_turns_not_messages(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """Two replicas of a single-active consumer: one gets every message; when it stops,
    the other takes over."""
    await processed_indexes().apply(mongo_db)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def handler(name: str) -> Any:
        async def handle(event: Event, session) -> None:
            got[name].append(event.id)

        return handle

    first = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, handler("a"),
                      single_active=True)
    second = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, handler("b"),
                       single_active=True)
    await first.start()
    await second.start()
    try:
        events = [Event("loan.disbursed", f"L{n}", {}) for n in range(10)]
        for event in events:
            await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: len(got["a"]) + len(got["b"]) == 10, what="all ten handled")
        assert sorted(map(len, got.values())) == [0, 10], "one replica took them all"
        active, standby = (first, second) if got["a"] else (second, first)
        await active.stop()
        later = Event("loan.disbursed", "L10", {})
        await _publish(amqp_url, amqp_names.exchange, later)
        await eventually(lambda: standby.handled == 1, what="the standby takes over")
    finally:
        await first.stop()
        await second.stop()


async def test_single_active_consumer_on_a_queue_declared_without_it(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """A queue declared before without the argument is consumed as it is, with a warning."""
    await processed_indexes().apply(mongo_db)
    seen: list[str] = []

    async def handle(event: Event, session) -> None:
        seen.append(event.id)

    before = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, handle)
    await before.start()
    await before.stop()
    after = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, handle, single_active=True)
    await after.start()
    try:
        assert after.ready.is_set()
        event = Event("loan.disbursed", "L1", {})
        await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: seen == [event.id], what="the event handled")
    finally:
        await after.stop()


async def test_failed_handler_rolls_back_and_is_retried(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    attempts: list[int] = []

    async def flaky(event: Event, session) -> None:
        attempts.append(1)
        await mongo_db.projection.insert_one({"event": event.id}, session=session)
        if len(attempts) < 3:
            raise RuntimeError("dependency not ready")

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, flaky,
                         retry_backoff=0.01, max_attempts=5)
    await consumer.start()
    try:
        event = Event("loan.approved", "L9", {})
        await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: consumer.handled == 1, what="handled after retries")
        assert len(attempts) == 3
        # The two failed attempts' writes were rolled back with their transaction.
        assert await mongo_db.projection.count_documents({"event": event.id}) == 1
    finally:
        await consumer.stop()


async def test_a_database_outage_longer_than_the_retries_dead_letters_nothing(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    """Five failures of the consumer's own MongoDB (restarting) are not the event's fault:
    with three attempts allowed, the event still waits them out and is handled once."""
    from pymongo.errors import AutoReconnect

    outages: list[int] = []

    async def database_restarting(event: Event, session) -> None:
        if len(outages) < 5:
            outages.append(1)
            raise AutoReconnect("connection closed")
        await mongo_db.projection.insert_one({"event": event.id}, session=session)

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, database_restarting,
                         retry_backoff=0.01, retry_backoff_max=0.05, max_attempts=3)
    await consumer.start()
    try:
        event = Event("loan.approved", "L10", {})
        await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: consumer.handled == 1, what="handled after the outage")
        assert consumer.dead_lettered == 0
        assert consumer.outage_retries == 5
        assert await mongo_db.projection.count_documents({"event": event.id}) == 1
    finally:
        await consumer.stop()


async def test_poison_event_is_dead_lettered(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    async def always_fails(event: Event, session) -> None:
        raise RuntimeError("cannot project this event")

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, always_fails,
                         retry_backoff=0.01, max_attempts=3)
    await consumer.start()
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        event = Event("loan.written_off", "L3", {})
        await _publish(amqp_url, amqp_names.exchange, event)
        channel = await connection.channel()
        dead = await channel.declare_queue(consumer.dead_letter_queue, durable=True)

        async def dead_lettered() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await dead.get(no_ack=True, fail=False)

        message = await eventually(dead_lettered, what="event in the dead-letter queue")
        assert message.message_id == event.id
        assert consumer.dead_lettered == 1
        assert await mongo_db.processed_events.count_documents({}) == 0
    finally:
        await connection.close()
        await consumer.stop()


async def _orphan_marker(mongo_client, consumer: IdempotentConsumer, event: Event) -> Any:
    """What a consumer killed while handling ``event`` leaves: a transaction, never ended,
    that inserted its processed marker (MongoDB aborts it only after 60 s)."""
    session = mongo_client.start_session()
    await session.start_transaction()
    await consumer.processed.insert_one(consumer._marker(event, utcnow()), session=session)
    return session


async def test_an_orphaned_transaction_delays_an_event_without_dead_lettering_it(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    handled: list[str] = []

    async def project(event: Event, session) -> None:
        handled.append(event.id)

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, project,
                         retry_backoff=0.01, retry_backoff_max=0.05, max_attempts=2)
    event = Event("loan.repayment_applied", "L7", {})
    orphan = await _orphan_marker(mongo_client, consumer, event)
    await consumer.start()
    try:
        await _publish(amqp_url, amqp_names.exchange, event)
        # Far more conflicts than max_attempts: they do not count.
        await eventually(lambda: consumer.conflicted >= 6, what="conflicts retried")
        assert consumer.dead_lettered == 0
        await orphan.abort_transaction()  # what MongoDB does once the lifetime runs out
        await eventually(lambda: consumer.handled == 1, what="handled once the lock is gone")
        assert handled == [event.id]
        assert consumer.dead_lettered == 0
    finally:
        await orphan.end_session()
        await consumer.stop()


async def test_conflicts_past_the_patience_count_as_attempts(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    async def project(event: Event, session) -> None:
        raise AssertionError("never reached: the marker insert conflicts")

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, project,
                         retry_backoff=0.01, retry_backoff_max=0.05, max_attempts=2,
                         conflict_patience=0.3)
    event = Event("loan.repayment_applied", "L8", {})
    orphan = await _orphan_marker(mongo_client, consumer, event)
    await consumer.start()
    try:
        await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: consumer.dead_lettered == 1, what="dead-lettered at last")
        assert consumer.conflicted >= 1
    finally:
        await orphan.abort_transaction()
        await orphan.end_session()
        await consumer.stop()


class _Delivered:
    """A delivered message whose channel may be gone (the connection dropped since)."""

    def __init__(self, event: Event, *, channel_gone: bool = False) -> None:
        self.body = event.to_message().body
        self.message_id = event.id
        self.headers: dict[str, Any] = {}
        self.channel_gone = channel_gone
        self.acked = False

    async def ack(self) -> None:
        if self.channel_gone:
            raise ChannelInvalidStateError()
        self.acked = True


async def test_an_ack_on_a_channel_gone_leaves_the_rest_of_the_batch_acked(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    await processed_indexes().apply(mongo_db)
    seen: list[str] = []

    async def project(events: list[Event], session) -> None:
        seen.extend(event.id for event in events)

    consumer = IdempotentConsumer(
        client=mongo_client, db=mongo_db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=amqp_names.queue("acks"), routing_keys=["loan.*"], batch_handler=project,
    )
    events = [Event("loan.approved", f"L{i}", {}) for i in range(3)]
    stale = _Delivered(events[0], channel_gone=True)
    rest = [_Delivered(event) for event in events[1:]]
    await consumer._process_batch([stale, *rest])  # type: ignore[list-item]
    assert seen == [event.id for event in events]
    assert all(m.acked for m in rest), "the messages after the failed ack are acked too"


async def test_outbox_to_consumer_end_to_end(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    seen: list[str] = []

    async def record(event: Event, session) -> None:
        seen.append(event.type)

    consumer = _consumer(mongo_client, mongo_db, amqp_url, amqp_names, record)
    await consumer.start()
    outbox = Outbox(mongo_db, producer="loan_service")
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=5.0)
    await relay.start()
    try:
        async with transaction(mongo_client) as session:
            await outbox.add(session, [outbox.new_event("loan.submitted", "L5", {}),
                                       outbox.new_event("payment.posted", "P5", {}),
                                       outbox.new_event("loan.approved", "L5", {})])
        outbox.notify()  # after the commit: no waiting for the 5 s poll
        await eventually(lambda: len(seen) == 2, within=4, what="loan.* events consumed")
        assert seen == ["loan.submitted", "loan.approved"]
    finally:
        await relay.stop()
        await consumer.stop()


async def test_consumer_started_during_an_outage_connects_later(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    broker = urlsplit(amqp_url)
    proxy = await TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    await proxy.cut()
    seen: list[str] = []

    async def record(event: Event, session) -> None:
        seen.append(event.id)

    consumer = _consumer(mongo_client, mongo_db, _via(amqp_url, proxy.port), amqp_names, record,
                         connect_timeout=1.0)
    try:
        await consumer.start()  # must not raise: the service starts anyway
        assert not consumer.ready.is_set()
        await proxy.restore()
        await eventually(consumer.ready.is_set, within=30, what="consumer connected")
        event = Event("loan.closed", "L7", {})
        await _publish(amqp_url, amqp_names.exchange, event)
        await eventually(lambda: seen == [event.id], what="event consumed")
    finally:
        await consumer.stop()
        await proxy.close()


# --------------------------------------------------------- batch consumer --
async def _publish_all(amqp_url: str, exchange: str, events: list[Event]) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for event in events:
            await ex.publish(event.to_message(), routing_key=event.type)
    finally:
        await connection.close()


class Gate:
    """A batch handler's first call waits here, so the next messages queue up behind it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def hold(self) -> None:
        if not self.opened.is_set():
            self.entered.set()
            await self.opened.wait()  # released by the test, bounded by its deadlines


def _mongo_commands(commands: Commands) -> list[tuple[str, str]]:
    """(command, collection) of the data commands seen, in order."""
    names = {"find", "insert", "update", "delete", "commitTransaction", "abortTransaction"}
    return [
        (name, str(body.get(name)) if name not in ("commitTransaction", "abortTransaction")
         else "")
        for name, body in commands.seen
        if name in names
    ]


@pytest.fixture
async def watched(mongo_url: str, mongo_db: Any) -> AsyncIterator[tuple[Any, Commands]]:
    """The test's database on a client of its own whose commands are recorded."""
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, event_listeners=[commands]
    )
    try:
        yield client[mongo_db.name], commands
    finally:
        await client.close()


def _batched(db: Any, amqp_url: str, amqp_names: Any, batch: Any, **kw: Any) -> IdempotentConsumer:
    return IdempotentConsumer(
        client=db.client, db=db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=amqp_names.queue("batched"), routing_keys=["loan.*"], batch_handler=batch, **kw,
    )


async def test_waiting_messages_are_one_marker_find_and_one_transaction(
    watched, amqp_url, amqp_names
) -> None:
    db, commands = watched
    await processed_indexes().apply(db)
    gate = Gate()
    batches: list[list[str]] = []

    async def project(events: list[Event], session) -> None:
        batches.append([e.id for e in events])
        await gate.hold()
        await db.projection.insert_many(
            [{"event": e.id, "amount": e.payload["amount_minor"]} for e in events],
            session=session,
        )

    consumer = _batched(db, amqp_url, amqp_names, project)
    await consumer.start()
    try:
        first = Event("loan.disbursed", "L0", {"amount_minor": 1})
        await _publish(amqp_url, amqp_names.exchange, first)
        await eventually(gate.entered.is_set, what="the first event held in its handler")
        burst = [Event("loan.disbursed", f"L{i}", {"amount_minor": 10 + i}) for i in range(1, 9)]
        # A redelivery of the first event, and one of the burst's events twice.
        await _publish_all(
            amqp_url, amqp_names.exchange, [*burst[:4], first, *burst[4:], burst[2]]
        )
        await eventually(lambda: consumer.waiting == 10, what="the burst delivered and waiting")
        commands.seen.clear()
        gate.opened.set()
        await eventually(lambda: consumer.handled + consumer.skipped == 11, what="all handled")

        assert batches == [[first.id], [e.id for e in burst]]  # queue order, each once
        assert (consumer.handled, consumer.skipped, consumer.batches) == (9, 2, 1)
        # After the gate: the first event's write and commit, then the whole burst in one
        # marker find, one transaction (markers, the handler's writes) and one commit.
        assert _mongo_commands(commands) == [
            ("insert", "projection"),
            ("commitTransaction", ""),
            ("find", "processed_events"),
            ("insert", "processed_events"),
            ("insert", "projection"),
            ("commitTransaction", ""),
        ]
        markers = [body for name, body in commands.seen
                   if name == "insert" and body["insert"] == "processed_events"]
        assert [len(body["documents"]) for body in markers] == [8]
        assert await db.processed_events.count_documents({}) == 9
        assert await db.projection.count_documents({}) == 9
    finally:
        await consumer.stop()


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone(
    watched, amqp_url, amqp_names
) -> None:
    db, _ = watched
    await processed_indexes().apply(db)
    gate = Gate()
    calls: list[list[str]] = []

    async def project(events: list[Event], session) -> None:
        calls.append([e.aggregate_id for e in events])
        await gate.hold()
        await db.projection.insert_many(
            [{"event": e.id, "loan": e.aggregate_id} for e in events], session=session
        )
        if any(e.aggregate_id == "poison" for e in events):
            raise RuntimeError("cannot project this event")

    consumer = _batched(db, amqp_url, amqp_names, project, retry_backoff=0.01, max_attempts=3)
    await consumer.start()
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        await _publish(amqp_url, amqp_names.exchange, Event("loan.approved", "gate", {}))
        await eventually(gate.entered.is_set, what="the gate event held")
        good = [Event("loan.approved", f"ok{i}", {}) for i in range(6)]
        poison = Event("loan.approved", "poison", {})
        queued = [*good[:3], poison, *good[3:]]
        await _publish_all(amqp_url, amqp_names.exchange, queued)
        await eventually(lambda: consumer.waiting == 7, what="the batch waiting")
        gate.opened.set()
        channel = await connection.channel()
        dead = await channel.declare_queue(consumer.dead_letter_queue, durable=True)

        async def dead_lettered() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await dead.get(no_ack=True, fail=False)

        message = await eventually(dead_lettered, what="the poison event dead-lettered")
        assert message.message_id == poison.id
        assert (message.headers or {}).get("x-mf-attempt") == 3
        assert consumer.dead_lettered == 1
        assert consumer.handled == 7  # the gate and the six good ones
        # The batch failed as a whole and was handled again one event at a time: the
        # good events committed once each, in queue order, the poison never.
        assert calls[1] == [e.aggregate_id for e in queued]
        assert calls[2:9] == [[e.aggregate_id] for e in queued]
        assert calls[9:] == [["poison"], ["poison"]]  # its retries, alone
        stored = [d["loan"] async for d in db.projection.find({}).sort("_id", 1)]
        assert stored == ["gate", *[e.aggregate_id for e in good]]
        assert await db.processed_events.count_documents({}) == 7
    finally:
        await connection.close()
        await consumer.stop()


async def test_batches_keep_queue_order_and_their_size_limit(
    watched, amqp_url, amqp_names
) -> None:
    db, _ = watched
    await processed_indexes().apply(db)
    gate = Gate()
    batches: list[list[str]] = []

    async def project(events: list[Event], session) -> None:
        await gate.hold()
        batches.append([e.id for e in events])

    consumer = _batched(db, amqp_url, amqp_names, project, prefetch=32, batch_max=5)
    await consumer.start()
    try:
        first = Event("loan.approved", "L0", {})
        await _publish(amqp_url, amqp_names.exchange, first)
        await eventually(gate.entered.is_set, what="the first event held")
        events = [Event("loan.approved", f"L{i}", {"n": i}) for i in range(1, 24)]
        await _publish_all(amqp_url, amqp_names.exchange, events)
        await eventually(lambda: consumer.waiting == 23, what="the events waiting")
        gate.opened.set()
        await eventually(lambda: consumer.handled == 24, what="all handled")
        assert [i for b in batches for i in b] == [first.id, *[e.id for e in events]]
        assert [len(b) for b in batches] == [1, 5, 5, 5, 5, 3]
        # One event alone goes the per-event way, unchanged.
        late = Event("loan.approved", "L99", {})
        await _publish(amqp_url, amqp_names.exchange, late)
        await eventually(lambda: consumer.handled == 25, what="a lone event handled")
        assert batches[-1] == [late.id]
    finally:
        await consumer.stop()


class MarkedMeanwhile:
    """The consumer's ``processed_events``, where another replica records ``event`` just
    after the consumer's marker find of a batch: the interleaving a unique _id guards."""

    def __init__(self, consumer: IdempotentConsumer, event: Event) -> None:
        self._inner = consumer.processed
        self._marker = f"{consumer.queue_name}:{event.id}"
        self._event = event
        self.done = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self._inner.find(*args, **kwargs)
        if not self.done:
            self.done = True
            return self._then_mark(cursor)
        return cursor

    async def _then_mark(self, cursor: Any) -> Any:
        found = [doc async for doc in cursor]
        await self._inner.insert_one({"_id": self._marker, "event_id": self._event.id})
        for doc in found:
            yield doc


async def test_a_marker_written_meanwhile_sends_the_batch_one_at_a_time(
    watched, amqp_url, amqp_names
) -> None:
    db, _ = watched
    await processed_indexes().apply(db)
    gate = Gate()
    calls: list[list[str]] = []

    async def project(events: list[Event], session) -> None:
        calls.append([e.aggregate_id for e in events])
        await gate.hold()
        await db.projection.insert_many([{"loan": e.aggregate_id} for e in events],
                                        session=session)

    consumer = _batched(db, amqp_url, amqp_names, project)
    await consumer.start()
    try:
        await _publish(amqp_url, amqp_names.exchange, Event("loan.approved", "gate", {}))
        await eventually(gate.entered.is_set, what="the gate event held")
        events = [Event("loan.approved", f"L{i}", {}) for i in range(4)]
        await _publish_all(amqp_url, amqp_names.exchange, events)
        await eventually(lambda: consumer.waiting == 4, what="the batch waiting")
        consumer.processed = MarkedMeanwhile(consumer, events[1])  # type: ignore[assignment]
        gate.opened.set()
        await eventually(lambda: consumer.handled + consumer.skipped == 5, what="all taken")
        assert (consumer.handled, consumer.skipped, consumer.batches) == (4, 1, 0)
        # The batch's insert met the marker: nothing of it committed, then one at a time.
        assert calls == [["gate"], ["L0"], ["L2"], ["L3"]]
        stored = [d["loan"] async for d in db.projection.find({}).sort("_id", 1)]
        assert stored == ["gate", "L0", "L2", "L3"]
    finally:
        await consumer.stop()


async def test_stop_drains_the_waiting_batch(watched, amqp_url, amqp_names) -> None:
    db, _ = watched
    await processed_indexes().apply(db)
    gate = Gate()

    async def project(events: list[Event], session) -> None:
        await gate.hold()

    consumer = _batched(db, amqp_url, amqp_names, project)
    await consumer.start()
    await _publish(amqp_url, amqp_names.exchange, Event("loan.approved", "gate", {}))
    await eventually(gate.entered.is_set, what="the gate event held")
    await _publish_all(amqp_url, amqp_names.exchange,
                       [Event("loan.approved", f"L{i}", {}) for i in range(5)])
    await eventually(lambda: consumer.waiting == 5, what="the batch waiting")
    stopping = asyncio.create_task(consumer.stop(drain_seconds=20))
    await eventually(lambda: not consumer.ready.is_set(), what="the consumer stopping")
    gate.opened.set()
    await stopping
    assert (consumer.handled, consumer.batches) == (6, 1)
    assert await db.processed_events.count_documents({}) == 6
