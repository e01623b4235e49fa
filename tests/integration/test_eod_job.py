"""End of day over a real MongoDB: dates in order, each penalty once, catch-up,
backdated money re-deriving closed dates, bucket events once per change.

The job runs in-process here (``EndOfDay.close_now``, the per-date entry the demo
data uses); tests/e2e/test_eod.py drives it over gRPC and kills a real process.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.eod_repository import EodRepository, row_id
from loan_service.adapters.loan_repository import LoanRepository
from loan_service.domain.eod import LoanRefs, close_loan
from loan_service.eod_service import EndOfDay, EndOfDayFailed, EndOfDayWorker, EodOptions
from loan_service.service import LoanService
from shared.errors import FailedPrecondition, InvalidArgument
from shared.events import Outbox
from shared.identity import Caller, Role
from shared.money import Money
from shared.mongo import run_in_transaction
from tests.integration.eod_support import (
    end_of_day,
    events_of,
    fixed_clock,
    outcome,
    portfolio,
    seed,
)

TODAY = date(2026, 5, 20)
ADMIN = Caller(subject="admin-1", role=Role.ADMIN)
Db = AsyncDatabase[dict[str, Any]]
Client = AsyncMongoClient[dict[str, Any]]


def penalties(result: dict[str, Any]) -> Counter[tuple[str, int]]:
    """(loan, installment) -> how many PENALTY transactions it carries."""
    return Counter(
        (loan_id, t["installment_number"])
        for loan_id, txns in result["loans"].items()
        for t in txns
        if t["type"] == "PENALTY"
    )


async def test_a_date_closes_once_and_a_rerun_changes_nothing(
    mongo_client: Client, mongo_db: Db
) -> None:
    await seed(mongo_db, portfolio(TODAY))
    eod, _ = end_of_day(mongo_client, mongo_db, TODAY)
    day = TODAY - timedelta(days=1)
    status = await eod.close_now(ADMIN, day)
    assert status.last_closed == day
    assert status.run is None
    assert status.last_date is not None
    first = await outcome(mongo_db)
    rows = [r for r in first["rows"] if r["business_date"] == day.isoformat()]
    # Every loan disbursed and still on the book that day has exactly one row (loan 5
    # was paid off weeks before: it has none).
    assert len(rows) == 23
    assert status.last_date.snapshot_rows == 23
    assert status.last_date.loans_processed == 23
    assert "loan-0005" not in {r["loan_id"] for r in rows}
    charged = penalties(first)
    assert charged
    assert max(charged.values()) == 1
    assert status.last_date.penalties_charged == sum(charged.values())

    again = await eod.close_now(ADMIN, day)
    assert again.already_run
    assert await outcome(mongo_db) == first
    closed = await events_of(mongo_db, "eod.date_closed")
    assert [e["payload"]["business_date"] for e in closed] == [day.isoformat()]
    assert closed[0]["payload"]["snapshot_rows"] == 23


async def test_out_of_order_is_refused_naming_the_last_closed_date(
    mongo_client: Client, mongo_db: Db
) -> None:
    await seed(mongo_db, portfolio(TODAY, count=4))
    eod, _ = end_of_day(mongo_client, mongo_db, TODAY)
    closed = TODAY - timedelta(days=5)
    await eod.close_now(ADMIN, closed)
    with pytest.raises(FailedPrecondition, match=closed.isoformat()):
        await eod.start(ADMIN, TODAY - timedelta(days=2))  # a gap
    with pytest.raises(FailedPrecondition, match=closed.isoformat()):
        await eod.start(ADMIN, closed - timedelta(days=1))  # backwards
    with pytest.raises(InvalidArgument, match="future"):
        await eod.start(ADMIN, TODAY + timedelta(days=1))
    assert (await eod.status()).last_closed == closed


async def test_catch_up_closes_each_missing_date_in_order_and_charges_once(
    mongo_client: Client, mongo_db: Db, mongo_client_db2: tuple[Client, Db]
) -> None:
    loans = portfolio(TODAY)
    await seed(mongo_db, loans)
    eod, _ = end_of_day(mongo_client, mongo_db, TODAY)
    start = TODAY - timedelta(days=12)
    await eod.close_now(ADMIN, start)
    status = await eod.close_now(ADMIN, TODAY, catch_up=True)
    assert status.last_closed == TODAY
    result = await outcome(mongo_db)
    closed = [e["payload"]["business_date"] async for e in _closed(mongo_db)]
    expected = [(start + timedelta(days=k)).isoformat() for k in range(13)]
    assert closed == expected
    assert [d["_id"] for d in result["dates"]] == expected
    assert max(penalties(result).values()) == 1
    # Rows per date: one per loan on the book that day.
    per_date = Counter(r["business_date"] for r in result["rows"])
    assert set(per_date) == set(expected)

    # The same portfolio closed straight to today, without the stops, charges the same.
    client2, db2 = mongo_client_db2
    await seed(db2, loans)
    other, _ = end_of_day(client2, db2, TODAY)
    await other.close_now(ADMIN, TODAY)
    assert penalties(await outcome(db2)) == penalties(result)


async def _closed(db: Db) -> Any:
    for event in await events_of(db, "eod.date_closed"):
        yield event


async def test_bucket_events_are_published_once_per_change(
    mongo_client: Client, mongo_db: Db
) -> None:
    await seed(mongo_db, portfolio(TODAY, count=8))
    eod, _ = end_of_day(mongo_client, mongo_db, TODAY)
    start = TODAY - timedelta(days=20)
    await eod.close_now(ADMIN, start)
    await eod.close_now(ADMIN, TODAY, catch_up=True)
    result = await outcome(mongo_db)
    # Walk each loan's rows: an event exactly where the bucket differs from the day before.
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in result["rows"]:
        rows.setdefault(row["loan_id"], []).append(row)
    expected: list[tuple[str, str, str]] = []
    for loan_id, series in rows.items():
        previous = "current"
        for row in sorted(series, key=lambda r: r["business_date"]):
            if row["bucket"] != previous and row["status"] == "ACTIVE":
                kind = "loan.overdue" if row["bucket"] != "current" else "loan.arrears_cleared"
                expected.append((kind, loan_id, row["business_date"]))
            previous = row["bucket"]
    published = [
        (e["type"], e["aggregate_id"], e["payload"]["business_date"])
        for kind in ("loan.overdue", "loan.arrears_cleared")
        for e in await events_of(mongo_db, kind)
    ]
    assert sorted(published) == sorted(expected)
    assert any(kind == "loan.overdue" for kind, _, _ in published)
    # A rerun publishes nothing more.
    await eod.close_now(ADMIN, TODAY)
    assert len(await events_of(mongo_db, "loan.overdue")) == sum(
        1 for kind, _, _ in published if kind == "loan.overdue"
    )


async def test_a_backdated_repayment_rewrites_that_loans_later_rows(
    mongo_client: Client, mongo_db: Db
) -> None:
    loans = portfolio(TODAY, count=8)
    await seed(mongo_db, loans)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY)
    start = TODAY - timedelta(days=10)
    await eod.close_now(ADMIN, start)
    await eod.close_now(ADMIN, TODAY - timedelta(days=1), catch_up=True)
    never_paid = loans[2]  # pays nothing: in arrears on every closed date
    before = await outcome(mongo_db)
    mine = [r for r in before["rows"] if r["loan_id"] == never_paid.id]
    others = [r for r in before["rows"] if r["loan_id"] != never_paid.id]
    assert all(r["arrears_amount"] > 0 for r in mine)

    service = LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(mongo_db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        eod._tx,
        outbox,
        clock=lambda: fixed_clock(TODAY),
        after_write=eod.rederive,
    )
    value_date = TODAY - timedelta(days=6)
    await service.apply_repayment(
        Caller(subject="service:payment", role=Role.SERVICE),  # as payment_service applies it
        never_paid.id,
        on_behalf_of="agent-2",
        payment_id="late-news",
        amount=Money(80_000, "USD"),
        value_date=value_date,
    )
    after = await outcome(mongo_db)
    # Other loans' rows are untouched; this loan's rows before the value date too.
    assert [r for r in after["rows"] if r["loan_id"] != never_paid.id] == others
    new = {r["business_date"]: r for r in after["rows"] if r["loan_id"] == never_paid.id}
    for old in mine:
        row = new[old["business_date"]]
        if old["business_date"] < value_date.isoformat():
            assert row == old
        else:
            assert row["loan_version"] > old["loan_version"]
            assert row["arrears_amount"] == 0
            assert row["bucket"] == "current"
    republished = [
        e
        for e in await events_of(mongo_db, "loan.snapshots")
        if any(r["loan_id"] == never_paid.id for r in e["payload"]["rows"])
        and e["payload"]["rows"][0]["loan_version"] > mine[0]["loan_version"]
    ]
    assert sorted(e["payload"]["business_date"] for e in republished) == sorted(
        d for d in new if d >= value_date.isoformat()
    )
    cleared = await events_of(mongo_db, "loan.arrears_cleared")
    assert [e["aggregate_id"] for e in cleared].count(never_paid.id) == 1


@pytest.fixture
async def mongo_client_db2(mongo_client: Client) -> Any:
    name = f"test_eod2_{uuid.uuid4().hex[:10]}"
    try:
        yield mongo_client, mongo_client[name]
    finally:
        await mongo_client.drop_database(name)


async def test_a_loan_written_while_its_batch_computes_is_read_again(
    mongo_client: Client, mongo_db: Db
) -> None:
    # A repayment lands after the batch read its loans and before it commits: the batch
    # must not commit a row computed from the loan as it was; it reads its loans again.
    # The loan gets no new penalty that day, so no compare-and-set on it catches it.
    loans = portfolio(TODAY, count=8)
    await seed(mongo_db, loans)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY, batch_size=4, concurrency=1)
    await eod.close_now(ADMIN, TODAY - timedelta(days=2))
    service = LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(mongo_db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        eod._tx,
        outbox,
        clock=lambda: fixed_clock(TODAY),
        after_write=eod.rederive,
    )
    never_paid = loans[2]
    day = TODAY - timedelta(days=1)
    repository = eod._repo
    buckets = repository.buckets
    read_loans = repository.reload
    calls: list[list[str]] = []
    reloads: list[list[str]] = []
    due_before: list[int] = []

    async def buckets_then_repay(on: date, loan_ids: Any, session: Any = None) -> Any:
        # Called once the batch has its loans, right before it decides.
        calls.append(list(loan_ids))
        if never_paid.id in loan_ids and not reloads:
            read = await LoanRepository(mongo_db).get(never_paid.id)
            assert read.schedule is not None
            due = close_loan(read.terms, read.schedule, read.transactions, day,
                             LoanRefs(read.id, "", "", "", ""))
            assert due.penalties == ()
            due_before.append(due.snapshot.arrears_amount)
            await service.apply_repayment(
                Caller(subject="service:payment", role=Role.SERVICE),
                never_paid.id,
                on_behalf_of="agent-2",
                payment_id="during-eod",
                amount=Money(30_000, "USD"),
                value_date=day,
            )
        return await buckets(on, loan_ids, session)

    async def reload(loan_ids: Any) -> Any:
        reloads.append(list(loan_ids))
        return await read_loans(loan_ids)

    repository.buckets = buckets_then_repay  # type: ignore[method-assign,assignment]
    repository.reload = reload  # type: ignore[method-assign]
    status = await eod.close_now(ADMIN, day)
    assert status.last_closed == day
    # The batch with that loan was decided twice: on the loans it read, then again.
    assert [ids for ids in reloads if never_paid.id in ids]
    stored = await LoanRepository(mongo_db).get(never_paid.id)
    assert stored.schedule is not None
    assert any(t.payment_id == "during-eod" for t in stored.transactions)
    row = await mongo_db["loan_snapshots"].find_one({"_id": row_id(day, never_paid.id)})
    assert row is not None
    # The row is the loan as stored now (with the repayment), not as the batch first read it.
    assert row["loan_version"] == stored.version
    expected = close_loan(
        stored.terms, stored.schedule, stored.transactions, day,
        LoanRefs(stored.id, stored.borrower_id, stored.agent_id, stored.branch_id,
                 stored.product_id),
    )
    assert expected.penalties == ()
    assert row["arrears_amount"] == expected.snapshot.arrears_amount
    assert row["days_past_due"] == expected.snapshot.days_past_due
    assert row["arrears_amount"] < due_before[0]
    # Each loan counted once in the date's figures, whatever was retried.
    assert status.last_date is not None
    assert status.last_date.loans_processed == status.last_date.snapshot_rows


async def test_a_write_to_another_loan_does_not_make_a_batch_decide_again(
    mongo_client: Client, mongo_db: Db
) -> None:
    # Any loan write during the run fails the guard of the batches that read before it;
    # a batch whose own loans did not change commits what it decided, without deciding
    # again, and the loan written gets its row from what is stored now.
    loans = portfolio(TODAY, count=8)
    await seed(mongo_db, loans)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY, batch_size=4, concurrency=1)
    await eod.close_now(ADMIN, TODAY - timedelta(days=2))
    service = LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(mongo_db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        eod._tx,
        outbox,
        clock=lambda: fixed_clock(TODAY),
        after_write=eod.rederive,
    )
    day = TODAY - timedelta(days=1)
    first, other = loans[0], loans[6]
    decide = eod._decide
    decided: list[list[str]] = []

    def counting(on: date, todo: Any, previous: Any) -> Any:
        ids = [loan.id for loan in todo]
        decided.append(ids)
        if first.id in ids and len(decided) == 1:
            # The batch has decided; the write lands before it commits.
            repaid.append(True)
        return decide(on, todo, previous)

    repaid: list[bool] = []
    guard = eod._repo.guard_batch

    async def guard_after_a_write(
        owner: str, loan_writes: int, day: date, session: Any
    ) -> None:
        if repaid == [True]:
            repaid.append(True)
            await service.apply_repayment(
                Caller(subject="service:payment", role=Role.SERVICE),
                other.id,
                on_behalf_of="agent-2",
                payment_id="elsewhere",
                amount=Money(10_000, "USD"),
                value_date=day,
            )
        await guard(owner, loan_writes, day, session)

    eod._decide = counting  # type: ignore[method-assign,assignment]
    eod._repo.guard_batch = guard_after_a_write  # type: ignore[method-assign]
    status = await eod.close_now(ADMIN, day)
    assert status.last_closed == day
    assert repaid == [True, True]
    # The first batch (the other loan is not in it) was decided once and committed.
    assert sum(1 for ids in decided if first.id in ids) == 1
    stored = await LoanRepository(mongo_db).get(other.id)
    assert any(t.payment_id == "elsewhere" for t in stored.transactions)
    row = await mongo_db["loan_snapshots"].find_one({"_id": row_id(day, other.id)})
    assert row is not None
    assert row["loan_version"] == stored.version
async def test_the_schedule_closes_the_day_that_ended(mongo_client: Client, mongo_db: Db) -> None:
    """MF_EOD_AT=00:30 closes, at 00:30 local time, the business date that just ended (not
    the new one); MF_EOD_AT=23:30 closes the date it falls on. Local time is Nairobi's
    (UTC+3), so UTC and local dates differ around midnight."""
    await seed(mongo_db, portfolio(TODAY))
    tz = ZoneInfo("Africa/Nairobi")
    now = [datetime(2026, 5, 20, 0, 10, tzinfo=tz)]

    async def in_transaction(body: Any) -> Any:
        return await run_in_transaction(mongo_client, body)

    eod = EndOfDay(EodRepository(mongo_db), in_transaction,
                   Outbox(mongo_db, producer="loan_service"), clock=lambda: now[0],
                   timezone=tz, options=EodOptions(batch_size=5, concurrency=2))
    await eod.close_now(ADMIN, date(2026, 5, 18))

    async def last_closed() -> date | None:
        return (await eod.status()).last_closed

    after_midnight = EndOfDayWorker(eod, at="00:30", timezone=tz)
    await after_midnight._tick()  # 00:10: the 05-19 run is due at 05-20 00:30, not yet
    assert await last_closed() == date(2026, 5, 18)
    now[0] = datetime(2026, 5, 20, 0, 45, tzinfo=tz)  # 2026-05-19 21:45 UTC
    await after_midnight._tick()
    assert await last_closed() == date(2026, 5, 19)
    await after_midnight._tick()  # closed: nothing more until tomorrow 00:30
    assert await last_closed() == date(2026, 5, 19)

    evening = EndOfDayWorker(eod, at="23:30", timezone=tz)
    now[0] = datetime(2026, 5, 20, 23, 10, tzinfo=tz)
    await evening._tick()
    assert await last_closed() == date(2026, 5, 19)
    now[0] = datetime(2026, 5, 20, 23, 40, tzinfo=tz)  # 20:40 UTC
    await evening._tick()
    assert await last_closed() == date(2026, 5, 20)


def repaying_service(db: Db, eod: EndOfDay, outbox: Outbox) -> LoanService:
    return LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        eod._tx,
        outbox,
        clock=lambda: fixed_clock(TODAY),
        after_write=eod.rederive,
    )


async def repay(service: LoanService, loan_id: str, payment_id: str, on: date) -> None:
    await service.apply_repayment(
        Caller(subject="service:payment", role=Role.SERVICE),
        loan_id,
        on_behalf_of="agent-2",
        payment_id=payment_id,
        amount=Money(1_000, "USD"),
        value_date=on,
    )


async def test_a_loan_write_reads_snapshot_rows_only_where_some_can_exist(
    mongo_client: Client, mongo_db: Db
) -> None:
    # A loan write reads the run's document once: with no run open, it reads the loan's
    # snapshot rows only if some can be dated on or after its value date.
    loans = portfolio(TODAY, count=8)
    await seed(mongo_db, loans)
    eod, outbox = end_of_day(mongo_client, mongo_db, TODAY)
    closed = TODAY - timedelta(days=2)
    await eod.close_now(ADMIN, closed)
    state = await mongo_db["eod_state"].find_one({"_id": "eod"})
    assert state is not None
    assert state["rows_through"] == closed.isoformat()
    service = repaying_service(mongo_db, eod, outbox)
    read: list[date] = []
    rows_of_loan = eod._repo.rows_of_loan

    async def counted(loan_id: str, since: date, session: Any = None) -> Any:
        read.append(since)
        return await rows_of_loan(loan_id, since, session)

    eod._repo.rows_of_loan = counted  # type: ignore[method-assign]
    loan = loans[2]
    await repay(service, loan.id, "today", TODAY)
    await repay(service, loan.id, "yesterday", TODAY - timedelta(days=1))
    assert read == []  # no row after the closed date: nothing read
    before = await mongo_db["loan_snapshots"].find_one({"_id": row_id(closed, loan.id)})
    await repay(service, loan.id, "into-the-closed-date", closed)
    assert read == [closed]
    after = await mongo_db["loan_snapshots"].find_one({"_id": row_id(closed, loan.id)})
    assert before is not None
    assert after is not None
    assert after["loan_version"] > before["loan_version"]

    # A state written before rows_through was kept: rows may be of any date, so read.
    await mongo_db["eod_state"].update_one({"_id": "eod"}, {"$unset": {"rows_through": ""}})
    await repay(service, loan.id, "legacy", TODAY)
    assert read == [closed, TODAY]
    # The next run's opening sets it from the rows, and its batches raise it.
    await eod.close_now(ADMIN, TODAY - timedelta(days=1))
    state = await mongo_db["eod_state"].find_one({"_id": "eod"})
    assert state is not None
    assert state["rows_through"] == (TODAY - timedelta(days=1)).isoformat()


async def test_rows_of_a_given_up_run_are_re_derived_after_an_earlier_date_closes(
    mongo_client: Client, mongo_db: Db
) -> None:
    # The first run ever fails after one batch and is given up: rows of its date exist
    # with no run open. A run may then close an earlier date (nothing was closed yet), so
    # rows exist after the last closed date; a loan write into that date must still
    # re-derive its row, or the next run would keep the stale row (a row marks it done).
    loans = portfolio(TODAY, count=8)
    await seed(mongo_db, loans)
    eod, outbox = end_of_day(
        mongo_client, mongo_db, TODAY, batch_size=4, concurrency=1, give_up_after_failures=1
    )
    day = TODAY - timedelta(days=1)

    async def fail_after_commit(day: date) -> None:
        raise RuntimeError("disk full")

    eod._after_commit = fail_after_commit  # type: ignore[method-assign]
    with pytest.raises(EndOfDayFailed):
        await eod.close_now(ADMIN, day)
    del eod._after_commit  # the class's own again
    partial = [r async for r in mongo_db["loan_snapshots"].find({"business_date": day.isoformat()})]
    assert 0 < len(partial) < len(loans)
    earlier = TODAY - timedelta(days=5)
    assert (await eod.close_now(ADMIN, earlier)).last_closed == earlier

    row = partial[0]
    service = repaying_service(mongo_db, eod, outbox)
    await repay(service, row["loan_id"], "into-the-given-up-date", day)
    again = await mongo_db["loan_snapshots"].find_one({"_id": row["_id"]})
    assert again is not None
    assert again["loan_version"] > row["loan_version"]
