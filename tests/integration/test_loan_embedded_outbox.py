"""A loan's own events in the loan document (its embedded outbox), on real servers.

Against RabbitMQ and the MongoDB stand-in: a repayment's loan write is the loan's
compare-and-set update carrying its events, the end-of-day guard's read and the commit
(no outbox insert); the events go out once, in order, and leave the loan document once
sent; a write whose process died before publishing is found by the poll; the end of
day's penalty write keeps the events waiting in the document; concurrent writes of one
loan still conflict and are retried, each with its events.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.loan_repository import (
    LOANS,
    LoanRepository,
    VersionConflict,
    loan_from_doc,
)
from loan_service.eod_service import EndOfDay
from loan_service.migrations import REGISTRY
from loan_service.service import LoanService
from shared.errors import Conflict
from shared.events import Outbox, OutboxRelay
from shared.identity import Caller, Role
from shared.money import Money
from tests.integration.eod_support import end_of_day, fixed_clock, portfolio, seed
from tests.integration.support import Commands, eventually
from tests.integration.test_shared_events import Listener

pytestmark = pytest.mark.integration

TODAY = date(2026, 5, 20)
ADMIN = Caller(subject="admin-1", role=Role.ADMIN)
SERVICE = Caller(subject="service:payment", role=Role.SERVICE)
Db = AsyncDatabase[dict[str, Any]]
Client = AsyncMongoClient[dict[str, Any]]



def loan_service(eod: EndOfDay, outbox: Outbox, db: Db) -> LoanService:
    """A loan service as main.py wires it for repayments (with end of day's rederive)."""
    return LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        eod._tx,
        outbox,
        clock=lambda: fixed_clock(TODAY),
        after_write=eod.rederive,
    )


async def repay(
    loans: LoanService, loan_id: str, payment_id: str, amount: int, on: date = TODAY
) -> Any:
    return await loans.apply_repayment(
        SERVICE,
        loan_id,
        on_behalf_of="agent-2",
        payment_id=payment_id,
        amount=Money(amount, "USD"),
        value_date=on,
    )


async def embedded(db: Db, loan_id: str) -> dict[str, Any]:
    doc = await db[LOANS].find_one({"_id": loan_id}, {"outbox": 1, "outbox_next": 1})
    assert doc is not None
    return doc


async def emptied(db: Db, loan_id: str) -> bool:
    doc = await embedded(db, loan_id)
    return not doc.get("outbox") and "outbox_next" not in doc


async def test_a_repayments_events_ride_the_loan_write_go_out_once_in_order_and_leave(
    mongo_url: str, mongo_db: Db, amqp_url: str, amqp_names: Any
) -> None:
    await REGISTRY.apply(mongo_db)
    stored = portfolio(TODAY, count=4)
    await seed(mongo_db, stored)
    commands = Commands()
    watched: Client = AsyncMongoClient(mongo_url, event_listeners=[commands])
    db = watched[mongo_db.name]
    eod, outbox = end_of_day(watched, db, TODAY)
    loans = loan_service(eod, outbox, db)
    relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=60,
                        mark_interval=0.05)
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    target = stored[2]  # never paid: a payoff closes it, two events
    try:
        await relay.start()
        await eventually(lambda: relay.polls >= 1 and relay._caught_up, what="first poll")
        polls = relay.polls
        quote = await loans.payoff_quote(ADMIN, target.id, TODAY)
        commands.seen.clear()
        outcome = await repay(loans, target.id, "pay-off", quote[1].total)
        written = list(commands.seen)
        assert outcome.closed
        # The loan read leaves the embedded outbox out.
        reads = [c for n, c in written if n == "find" and c["find"] == LOANS]
        assert reads
        assert all(c.get("projection") == {"outbox": 0, "outbox_next": 0} for c in reads)
        # In the transaction: the loan's update with its events, the end-of-day guard's
        # read, the commit. No outbox insert, no replace.
        in_txn = [(n, c.get(n)) for n, c in written if c.get("autocommit") is False]
        assert in_txn == [("update", LOANS), ("find", "eod_state"), ("commitTransaction", 1)]

        doc = await embedded(db, target.id)
        kinds = [e["type"] for e in doc.get("outbox") or []]
        # Either still waiting in the document, or already sent and pulled.
        assert kinds in ([], ["loan.repayment_applied", "loan.closed"])
        await eventually(lambda: len(listener.messages) >= 2, what="both events delivered")
        await eventually(lambda: emptied(db, target.id), what="sent events pulled")
        bodies = [m.body for m in listener.messages]
        assert [m.routing_key for m in listener.messages] == [
            "loan.repayment_applied", "loan.closed"
        ]
        assert b"pay-off" in bodies[0]
        assert relay.published_direct == 2
        assert relay.polls == polls  # handed over at the commit, never read back
        assert await outbox.pending_count() == 0
        assert await db.outbox.count_documents({"type": {"$regex": "^loan\\."}}) == 0
        # The loan as the repository reads it is the loan as written.
        assert (await LoanRepository(db).get(target.id)).version == target.version + 1
        await relay.stop()
        relay = OutboxRelay(outbox, amqp_url, amqp_names.exchange, poll_interval=0.05,
                            max_poll_interval=0.05)
        await relay.start()
        await eventually(lambda: relay.polls > 3, what="more polls")
        assert len(listener.messages) == 2  # and never again
    finally:
        await relay.stop()
        await listener.close()
        await watched.close()


async def test_a_write_whose_process_died_before_publishing_is_found_by_the_poll(
    mongo_client: Client, mongo_db: Db, amqp_url: str, amqp_names: Any
) -> None:
    await REGISTRY.apply(mongo_db)
    stored = portfolio(TODAY, count=4)
    await seed(mongo_db, stored)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY)
    loans = loan_service(eod, outbox, mongo_db)  # no relay in this process: none hands over
    target = stored[2]
    await repay(loans, target.id, "first", 5_000)
    await repay(loans, target.id, "second", 6_000)
    doc = await embedded(mongo_db, target.id)
    pending = [e["_id"] for e in doc["outbox"]]
    assert [e["payload"]["payment_id"] for e in doc["outbox"]] == ["first", "second"]
    assert doc["outbox_next"] == doc["outbox"][0]["order"]
    assert await outbox.pending_count() == 2

    # Another process (a restart): its relay polls the loans for events left behind.
    after = Outbox(mongo_db, producer="loan_service")
    after.embedded(LOANS, drop_sent=True)
    listener = await Listener().start(amqp_url, amqp_names.exchange, amqp_names.queue())
    relay = OutboxRelay(after, amqp_url, amqp_names.exchange, poll_interval=0.1,
                        mark_interval=0.05)
    await relay.start()
    try:
        await eventually(lambda: len(listener.ids) >= 2, what="both delivered by the poll")
        await eventually(lambda: emptied(mongo_db, target.id), what="sent events pulled")
        assert listener.ids == pending  # in the order they were written
        assert relay.published_direct == 0
        polls = relay.polls
        await eventually(lambda: relay.polls > polls + 2, what="more polls")
        assert len(listener.ids) == 2
        assert await after.pending_count() == 0
    finally:
        await relay.stop()
        await listener.close()


async def test_the_end_of_days_penalty_write_keeps_the_loans_waiting_events(
    mongo_client: Client, mongo_db: Db
) -> None:
    await REGISTRY.apply(mongo_db)
    stored = portfolio(TODAY, count=8)
    await seed(mongo_db, stored)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY)
    loans = loan_service(eod, outbox, mongo_db)  # no relay: the events wait in the document
    never_paid = stored[2]
    await repay(loans, never_paid.id, "small", 1_000)
    before = await mongo_db[LOANS].find_one({"_id": never_paid.id})
    assert before is not None
    waiting = before["outbox"]
    assert [e["type"] for e in waiting] == ["loan.repayment_applied"]

    status = await eod.close_now(ADMIN, TODAY - timedelta(days=1))
    assert status.last_date is not None
    assert status.last_date.penalties_charged > 0

    after = await mongo_db[LOANS].find_one({"_id": never_paid.id})
    assert after is not None
    # The penalty was written (compare-and-set, version + 1) ...
    assert after["version"] == before["version"] + 1
    assert any(t["type"] == "PENALTY" for t in after["transactions"])
    assert loan_from_doc(after).transactions[-1].type.value == "PENALTY"
    # ... and the loan's waiting event, and the poll's way to it, are still there.
    assert after["outbox"] == waiting
    assert after["outbox_next"] == before["outbox_next"]
    assert after["payment_ids"] == ["small"]
    # The end of day's own events of the loan go to the outbox collection.
    assert await mongo_db.outbox.count_documents(
        {"type": "loan.penalty_charged", "aggregate_id": never_paid.id}
    ) > 0


async def test_concurrent_writes_of_one_loan_still_conflict(
    mongo_client: Client, mongo_db: Db
) -> None:
    await REGISTRY.apply(mongo_db)
    stored = portfolio(TODAY, count=4)
    await seed(mongo_db, stored)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY)
    # Two replicas: each its own per-loan locks, so only the compare-and-set orders them.
    replicas = [loan_service(eod, outbox, mongo_db) for _ in range(2)]
    target = stored[2]
    repository = LoanRepository(mongo_db)

    # A write against a version that moved on is refused, and pushes no event.
    loan = await repository.get(target.id)
    staged = outbox.embedded(LOANS, drop_sent=True).stage(
        [outbox.new_event("loan.test", target.id, {})]
    )
    await repository.update(replace(loan, version=loan.version + 1), loan.version)
    with pytest.raises(VersionConflict):
        await repository.update(
            replace(loan, version=loan.version + 1), loan.version, also=staged.update
        )
    assert "outbox" not in await embedded(mongo_db, target.id)

    # Racing repayments all land, each once with its event, in version order.
    ids = [f"race-{k}" for k in range(6)]
    await asyncio.gather(
        *(repay(replicas[k % 2], target.id, payment_id, 1_000) for k, payment_id in enumerate(ids))
    )
    doc = await mongo_db[LOANS].find_one({"_id": target.id})
    assert doc is not None
    assert doc["version"] == loan.version + 1 + len(ids)
    assert sorted(doc["payment_ids"]) == sorted(ids)
    events = doc["outbox"]
    assert sorted(e["payload"]["payment_id"] for e in events) == sorted(ids)
    versions = [e["payload"]["version"] for e in events]
    assert versions == sorted(versions) == list(range(loan.version + 2, doc["version"] + 1))

    # A pinned version that moved on is ABORTED.
    with pytest.raises(Conflict):
        await replicas[0].waive(
            ADMIN, target.id, installment_number=1, penalty=None,
            interest=Money(1, "USD"), reason="hardship", expected_version=loan.version,
        )
