"""The embedded outbox: events stored in the aggregate document with its state change.

Against a real RabbitMQ and the MongoDB stand-in: a payment's settle is one write of
its document (no transaction); its event goes out once, with confirms, and is marked
sent in place; it waits in the document while the broker is down; a write whose
hand-over never happened (a crash) is found by the poll; one document's events go out
in the order they were written, even when a new one arrives while the old is marked.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pytest
from pymongo import AsyncMongoClient

from payment_service.adapters.payment_repository import PaymentRepository
from payment_service.domain.payment import PaymentStatus
from payment_service.migrations import REGISTRY
from shared.events import EmbeddedOutbox, Outbox, OutboxRelay, embedded_outbox_indexes
from tests.integration.support import Commands, TcpProxy, eventually
from tests.integration.test_payment_owners import applied_to, pending, service_on
from tests.integration.test_shared_events import Listener, _via

pytestmark = pytest.mark.integration



async def _stored(source: EmbeddedOutbox, doc_id: str) -> dict[str, Any]:
    doc = await source.collection.find_one({"_id": doc_id})
    assert doc is not None
    return doc


async def _write(source: EmbeddedOutbox, doc_id: str, step: int, *, hand_over: bool = True) -> str:
    """One state change and its event, in one write; handed to the relay unless told not."""
    event = source.new_event("account.changed", doc_id, {"step": step})
    staged = source.stage([event])
    await source.collection.update_one(
        {"_id": doc_id}, {**staged.update, "$set": {"step": step}}, upsert=True
    )
    if hand_over:
        source.written(doc_id, staged)
    return event.id


async def _all_sent(source: EmbeddedOutbox, doc_id: str) -> bool:
    doc = await _stored(source, doc_id)
    return "outbox_next" not in doc and all(e["status"] == "sent" for e in doc["outbox"])


async def test_settle_is_one_write_and_its_event_goes_out_once(
    mongo_url: str, mongo_client: Any, mongo_db: Any, amqp_url: str, amqp_names: Any
) -> None:
    await REGISTRY.apply(mongo_db)
    commands = Commands()
    watched: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, event_listeners=[commands]
    )
    db = watched[mongo_db.name]
    repo = PaymentRepository(db)
    service = service_on(mongo_client, db, repo)
    outbox: Outbox = service._events  # type: ignore[assignment]
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=60,
                        mark_interval=0.05)
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    try:
        payment = pending("p1", "L1", "agent-a")
        await repo.insert(payment)
        await repo.next_receipt_sequence(2026)  # reserve a block: no counter write below
        await relay.start()
        await eventually(lambda: relay.polls >= 1 and relay._caught_up, what="first poll")
        polls = relay.polls
        commands.seen.clear()
        settled = await service._settle_posted(payment, applied_to("agent-a", "BR-1"), "a")
        settle_commands = list(commands.seen)
        assert settled.status is PaymentStatus.POSTED
        # ONE write of the payment document, outside any transaction.
        assert [name for name, _ in settle_commands] == ["update"]
        # (A retryable write carries a txnNumber; a transaction's has autocommit: false.)
        assert all("autocommit" not in cmd for _, cmd in settle_commands)
        doc = await db.payments.find_one({"_id": "p1"})
        assert doc is not None
        assert doc["status"] == "POSTED"
        (event,) = doc["outbox"]
        assert (event["type"], event["status"]) == ("payment.posted", "pending")

        await eventually(lambda: event["_id"] in listener.ids, what="payment.posted delivered")
        source = outbox.embedded("payments")
        await eventually(lambda: _all_sent(source, "p1"), what="marked sent in the document")
        assert listener.ids == [event["_id"]]
        assert relay.polls == polls
        assert relay.published_direct == 1
        assert await outbox.pending_count() == 0
        assert await db.outbox.count_documents({}) == 0
    finally:
        await relay.stop()
        await listener.close()
        await watched.close()


async def test_event_waits_in_the_document_while_the_broker_is_down(
    mongo_db: Any, amqp_url: str, amqp_names: Any
) -> None:
    await embedded_outbox_indexes("accounts").apply(mongo_db)
    broker = urlsplit(amqp_url)
    proxy = await TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    outbox = Outbox(mongo_db, producer="test")
    source = outbox.embedded("accounts")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(
        outbox, _via(amqp_url, proxy.port), amqp_names.exchange,
        poll_interval=0.2, mark_interval=0.05, backoff_initial=0.1, backoff_max=0.5,
        publish_timeout=2.0, connect_timeout=2.0,
    )
    await relay.start()
    try:
        first = await _write(source, "A1", 1)
        await eventually(lambda: first in listener.ids, what="first event delivered")
        await eventually(lambda: _all_sent(source, "A1"), what="first marked")

        await proxy.cut()
        failures = relay.failures
        during = await _write(source, "A1", 2)
        await eventually(lambda: relay.failures > failures, within=30, what="a failed attempt")
        doc = await _stored(source, "A1")
        assert [e["status"] for e in doc["outbox"]] == ["sent", "pending"]
        assert doc["outbox_next"] == doc["outbox"][1]["order"]
        assert await outbox.pending_count() == 1
        assert during not in listener.ids

        await proxy.restore()
        await eventually(lambda: during in listener.ids, within=30, what="event after recovery")
        await eventually(lambda: _all_sent(source, "A1"), what="marked after recovery")
        assert listener.ids == [first, during]
        assert await outbox.pending_count() == 0
    finally:
        await relay.stop()
        await listener.close()
        await proxy.close()


async def test_a_write_never_handed_over_is_found_by_the_poll(
    mongo_db: Any, amqp_url: str, amqp_names: Any
) -> None:
    """A crash between the write and the hand-over: the poll publishes the event."""
    await embedded_outbox_indexes("accounts").apply(mongo_db)
    outbox = Outbox(mongo_db, producer="test")
    source = outbox.embedded("accounts")
    lost = await _write(source, "A1", 1, hand_over=False)
    other = await _write(source, "A2", 1, hand_over=False)
    assert await outbox.pending_count() == 2
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.1,
                        mark_interval=0.05)
    await relay.start()
    try:
        await eventually(lambda: len(listener.ids) >= 2, what="both delivered by the poll")
        await eventually(lambda: _all_sent(source, "A1"), what="A1 marked")
        await eventually(lambda: _all_sent(source, "A2"), what="A2 marked")
        assert listener.ids == [lost, other]  # by the order of their oldest event
        assert relay.published_direct == 0
        polls = relay.polls
        await eventually(lambda: relay.polls > polls + 2, what="more polls")
        assert len(listener.ids) == 2  # and never again
    finally:
        await relay.stop()
        await listener.close()


async def test_one_documents_events_go_out_in_order_across_a_mark(
    mongo_db: Any, amqp_url: str, amqp_names: Any
) -> None:
    """A second event pushed while the first is published and not yet marked: marking
    the first keeps ``outbox_next``, so the second is still found, and goes out after."""
    await embedded_outbox_indexes("payments").apply(mongo_db)
    outbox = Outbox(mongo_db, producer="test")
    source = outbox.embedded("payments")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=60,
                        mark_interval=60)
    await relay.start()
    try:
        await eventually(lambda: relay.polls >= 1 and relay._caught_up, what="first poll")
        posted = await _write(source, "P1", 1)
        await eventually(lambda: posted in listener.ids, what="posted delivered")
        reversed_ = await _write(source, "P1", 2, hand_over=False)  # its process crashed
    finally:
        await relay.stop()  # marks the first, in place
    doc = await _stored(source, "P1")
    assert [e["status"] for e in doc["outbox"]] == ["sent", "pending"]
    assert "outbox_next" in doc  # still found by the poll
    assert await outbox.pending_count() == 1

    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.1,
                        mark_interval=0.05)
    await relay.start()
    try:
        await eventually(lambda: reversed_ in listener.ids, what="reversed delivered")
        await eventually(lambda: _all_sent(source, "P1"), what="both marked")
        assert listener.ids == [posted, reversed_]
        assert await outbox.pending_count() == 0
    finally:
        await relay.stop()
        await listener.close()


async def test_events_written_in_one_document_go_out_in_order(
    mongo_db: Any, amqp_url: str, amqp_names: Any
) -> None:
    """Hand-overs and frequent polls interleaved: each document's events in write order."""
    await embedded_outbox_indexes("accounts").apply(mongo_db)
    outbox = Outbox(mongo_db, producer="test")
    source = outbox.embedded("accounts")
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.01,
                        max_poll_interval=0.01, mark_interval=0.01, batch_size=2)
    await relay.start()
    try:
        ids = [await _write(source, f"A{i % 3}", i) for i in range(12)]
        await eventually(lambda: len(listener.ids) >= 12, what="all delivered")
        for doc_id in ("A0", "A1", "A2"):
            await eventually(partial(_all_sent, source, doc_id), what=f"{doc_id} marked")
            doc = await _stored(source, doc_id)
            mine = [e["_id"] for e in doc["outbox"]]
            assert [i for i in listener.ids if i in mine] == mine
        assert sorted(str(i) for i in listener.ids) == sorted(ids)
    finally:
        await relay.stop()
        await listener.close()
