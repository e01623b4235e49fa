"""reporting's projection in batches (``Project.batch``) against a real MongoDB: the same
documents as one event at a time, in a few round trips per batch.

The events are those of the other projection tests and more (a repayment revised under
the same transaction, a reversal before its repayment, application steps, borrowers,
events only logged), in any order, some more than once, cut into batches at random. One
database takes them one by one (``Project.__call__``, a transaction each, as the
consumer's per-event path runs them), another in the batches (``Project.batch``, a
transaction each); every read model, the money-event counter and the event log must
come out the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from reporting_service.adapters.read_models import EVENT_LOG, READ_MODELS, ReadModels
from reporting_service.consumers import Project
from reporting_service.service import NoCache, ReportingService
from shared.events import Event
from shared.mongo import create_mongo_client, transaction
from tests.integration.support import Commands
from tests.integration.test_reporting_projection import EVENTS as PROJECTION_EVENTS
from tests.integration.test_reporting_totals_db import D1, D2, LOANS, _closed, _repaid, _row
from tests.integration.test_reporting_totals_db import EVENTS as TOTALS_EVENTS

pytestmark = pytest.mark.integration


def _step(kind: str, loan: str, at: str, version: int = 1, **labels: str) -> Event:
    base = LOANS.get(loan, LOANS["L4"])[1]
    return Event(kind, loan, {**base, **labels, "loan_id": loan, "version": version},
                 occurred_at=datetime.fromisoformat(at))


MORE = [
    # T5 applied, then revised by a second event of the same transaction (less, moved).
    _repaid("L1", "T5", "2025-03-20", 20_000, 2, "2025-03-01"),
    _repaid("L1", "T5", "2025-03-21", 15_000, 3, "2025-04-01"),
    # A reversal seen before its repayment.
    Event("loan.repayment_reversed", "L3", {"loan_id": "L3", "reversed_transaction_id": "T6",
                                            "transaction_id": "R6"}),
    _repaid("L3", "T6", "2025-03-25", 7_000, 2, "2025-04-01"),
    _repaid("L5", "T7", D2, 1_000, 1, "2025-04-15"),
    # L4 submitted (TOTALS_EVENTS), then rejected; L5 approved then disbursed; L6
    # submitted twice, the later version under another agent, then withdrawn the same day.
    _step("loan.rejected", "L4", "2025-03-12T09:00:00+00:00", 2),
    _step("loan.submitted", "L6", "2025-03-02T09:00:00+00:00", 1),
    _step("loan.submitted", "L6", "2025-03-03T09:00:00+00:00", 2, agent_id="a2"),
    _step("loan.withdrawn", "L6", "2025-03-02T12:00:00+00:00", 1),
    Event("loan.disbursed", "L5", {
        **LOANS["L5"][1], "loan_id": "L5", "borrower_id": "e", "principal": 20_000,
        "upfront_fee": 0, "disbursement_date": "2025-03-30", "version": 4,
        "schedule": [{"number": 1, "due_date": "2025-04-15", "principal": 20_000,
                      "interest": 0, "fee": 0}]}),
    Event("borrower.created", "c", {"borrower_id": "c", "version": 1,
                                    "assigned_agent_id": "a2", "branch_id": "BR2"}),
    Event("borrower.status_changed", "c", {"borrower_id": "c", "version": 2,
                                           "account_status": "SUSPENDED"}),
    Event("payment.completed", "P1", {"payment_id": "P1", "loan_id": "L1", "amount": 20_000}),
    Event("loan.snapshots", D1, {"business_date": D1, "rows": [_row("L5", 4, 0, 20_000)]}),
    _closed("2025-04-01", 0),
]
EVENTS = [*PROJECTION_EVENTS, *TOTALS_EVENTS, *MORE]


async def _fresh(client: AsyncMongoClient[dict[str, Any]]) -> tuple[ReadModels, Project, str]:
    name = f"test_rb_{uuid.uuid4().hex[:10]}"
    models = ReadModels(client[name])
    service = ReportingService(models, NoCache(), ZoneInfo("UTC"),
                               clock=lambda: datetime(2025, 4, 2, tzinfo=UTC))
    return models, Project(service), name


async def _dump(models: ReadModels) -> dict[str, list[dict[str, Any]]]:
    return {name: await models.dump(name) for name in (*READ_MODELS, EVENT_LOG)}


def _batches(events: list[Event], sizes: list[int]) -> list[list[Event]]:
    out: list[list[Event]] = []
    at = 0
    for size in sizes:
        if at >= len(events):
            break
        out.append(events[at:at + size])
        at += size
    if at < len(events):
        out.append(events[at:])
    return out


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(EVENTS))),
       repeats=st.lists(st.integers(0, len(EVENTS) - 1), max_size=4),
       sizes=st.lists(st.integers(1, 16), max_size=12))
async def test_batches_give_what_one_by_one_gives(
    mongo_client: AsyncMongoClient[dict[str, Any]], order: list[int], repeats: list[int],
    sizes: list[int],
) -> None:
    events = [EVENTS[i] for i in [*order, *repeats]]
    one, project_one, one_name = await _fresh(mongo_client)
    many, project_many, many_name = await _fresh(mongo_client)
    try:
        for event in events:
            async with transaction(mongo_client) as session:
                await project_one(event, session)
        for batch in _batches(events, sizes):
            async with transaction(mongo_client) as session:
                await project_many.batch(batch, session)
        expected, got = await _dump(one), await _dump(many)
        for name in expected:
            assert got[name] == expected[name], name
        # Not vacuous: the repayments, their flows and a closed date's totals are there.
        assert {c["_id"] for c in expected["collections"]} >= {"T1", "T2", "T5", "T6", "T7"}
        assert expected["day_flows"]
        assert expected["day_totals"]
        assert len(expected[EVENT_LOG]) == len(EVENTS)
    finally:
        await mongo_client.drop_database(one_name)
        await mongo_client.drop_database(many_name)


@pytest.fixture
async def counted(mongo_url: str) -> AsyncIterator[tuple[AsyncMongoClient[dict[str, Any]],
                                                         Commands]]:
    commands = Commands()
    client = create_mongo_client(mongo_url, "mf-tests-batch", event_listeners=[commands])
    try:
        yield client, commands
    finally:
        await client.close()


def _repayments(n: int) -> list[Event]:
    """``n`` repayments of L1 (each with a part) and as many payment events, interleaved."""
    out: list[Event] = []
    for i in range(n):
        out.append(_repaid("L1", f"TX{i}", D1, 100 + i, 1 + i % 3, "2025-03-01"))
        out.append(Event("payment.completed", f"P{i}", {"payment_id": f"P{i}",
                                                          "amount": 100 + i}))
    return out


async def test_a_batch_of_repayments_takes_a_few_round_trips(
    counted: tuple[AsyncMongoClient[dict[str, Any]], Commands],
) -> None:
    """A closed date's totals are built, so each repayment moves its money to date too."""
    client, commands = counted
    _, project, name = await _fresh(client)
    try:
        for event in TOTALS_EVENTS:  # two closed dates
            await project.apply(event, None)
        counts: dict[int, int] = {}
        for n in (1, 50):
            batch = _repayments(n)
            batch = [Event(e.type, e.aggregate_id, {**e.payload, **(
                {"transaction_id": f"{e.payload['transaction_id']}-{n}"}
                if "transaction_id" in e.payload else {})}) for e in batch]
            async with transaction(client) as session:
                commands.seen.clear()
                await project.batch(batch, session)
                counts[n] = len(commands.seen)  # before the commit
        # The same whatever the batch's size: 3 for the event log, 3 reads (collections,
        # their parts, the loans' write-offs), a bulk write each for collections, parts
        # and day flows, the built dates, the totals held and their bulk write, the
        # counter of money events.
        assert counts[50] == counts[1] <= 13, (counts, [name for name, _ in commands.seen])
        # One event at a time takes that for each repayment.
        async with transaction(client) as session:
            commands.seen.clear()
            await project(_repayments(1)[0], session)
            one = len(commands.seen)  # before the commit
        assert one > counts[1]
        print(f"round trips: batch of 1 or 50 repayments (+50 logged): {counts}; "
              f"one repayment alone: {one}")
    finally:
        await client.drop_database(name)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["L1", "L2", "L3"]), st.sampled_from([D1, D2]),
                               st.integers(0, 4), st.integers(0, 9)), max_size=12),
       held=st.lists(st.tuples(st.sampled_from(["L1", "L2"]), st.integers(0, 3)), max_size=2))
async def test_a_chunk_of_rows_at_once_as_one_by_one(
    mongo_client: AsyncMongoClient[dict[str, Any]],
    rows: list[tuple[str, str, int, int]], held: list[tuple[str, int]],
) -> None:
    """``upsert_snapshots`` (a date without totals) leaves what ``upsert_snapshot`` of each
    row does: the highest version of each row, the dates' row counts and revisions."""
    chunk = [({**_row(loan, 0, dpd, 1_000), "business_date": on}, version)
             for loan, on, version, dpd in rows]
    chunk = [({k: v for k, v in row.items() if k != "loan_version"}, version)
             for row, version in chunk]
    dumps = []
    for at_once in (False, True):
        models, _, name = await _fresh(mongo_client)
        try:
            for loan, version in held:
                await models.upsert_snapshot(
                    {**_row(loan, 0, 1, 5), "business_date": D1}, version, None)
            if at_once:
                await models.upsert_snapshots(chunk, None)
            else:
                for row, version in chunk:
                    await models.upsert_snapshot(row, version, None)
            dumps.append((await models.dump("snapshots"), await models.dump("business_dates")))
        finally:
            await mongo_client.drop_database(name)
    assert dumps[1] == dumps[0]
