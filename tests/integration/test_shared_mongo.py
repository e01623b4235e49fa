from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError, PyMongoError

from microfinance_cli.backends import free_port
from shared.errors import AlreadyExists, Conflict, Unavailable
from shared.grpc.status import status_code_for
from shared.mongo import (
    IndexRegistry,
    create_mongo_client,
    duplicate_key_fields,
    duplicate_key_index,
    duplicate_key_to_error,
    on_transaction_end,
    ping,
    run_in_transaction,
    time_budget,
    transaction,
)
from tests.integration.support import eventually

pytestmark = pytest.mark.integration

STAFF = IndexRegistry(
    {
        "staff": [
            IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
            IndexModel([("branch", ASCENDING), ("name", ASCENDING)], name="by_branch"),
        ]
    }
)


async def test_index_registry_is_idempotent(mongo_db) -> None:
    first = await STAFF.apply(mongo_db)
    second = await STAFF.apply(mongo_db)
    assert first == second == {"staff": ["email_unique", "by_branch"]}
    info = await mongo_db.staff.index_information()
    assert info["email_unique"]["unique"] is True
    assert info["by_branch"]["key"] == [("branch", 1), ("name", 1)]


async def test_unique_index_maps_to_already_exists(mongo_db) -> None:
    await STAFF.apply(mongo_db)
    await mongo_db.staff.insert_one({"email": "amina@mfi.org", "branch": "b1"})
    with pytest.raises(DuplicateKeyError) as raised:
        await mongo_db.staff.insert_one({"email": "amina@mfi.org", "branch": "b2"})
    exc = raised.value
    assert duplicate_key_fields(exc) == ["email"]
    assert duplicate_key_index(exc) == "email_unique"

    err = duplicate_key_to_error(exc, "a staff member with this email exists", "email")
    assert isinstance(err, AlreadyExists)
    assert status_code_for(err) == grpc.StatusCode.ALREADY_EXISTS
    assert err.violations[0].field == "email"
    assert await mongo_db.staff.count_documents({}) == 1


async def test_duplicate_inside_a_transaction_maps_too(mongo_client, mongo_db) -> None:
    await STAFF.apply(mongo_db)
    await mongo_db.staff.insert_one({"email": "dup@mfi.org"})

    async def insert_both() -> None:
        async with transaction(mongo_client) as session:
            await mongo_db.staff.insert_one({"email": "other@mfi.org"}, session=session)
            await mongo_db.staff.insert_one({"email": "dup@mfi.org"}, session=session)

    with pytest.raises(DuplicateKeyError) as raised:
        await insert_both()
    assert isinstance(duplicate_key_to_error(raised.value, "exists"), AlreadyExists)
    # The whole transaction went: the first insert is not there either.
    assert await mongo_db.staff.count_documents({"email": "other@mfi.org"}) == 0


async def test_non_duplicate_errors_are_not_mapped() -> None:
    from pymongo.errors import OperationFailure

    with pytest.raises(OperationFailure):
        duplicate_key_to_error(OperationFailure("boom", code=2), "exists")


async def test_changed_index_definition_is_rebuilt(mongo_db) -> None:
    await IndexRegistry({"t": [IndexModel([("k", ASCENDING)], name="k_idx")]}).apply(mongo_db)
    changed = IndexRegistry({"t": [IndexModel([("k", ASCENDING)], name="k_idx", unique=True)]})
    await changed.apply(mongo_db)
    info = await mongo_db.t.index_information()
    assert info["k_idx"].get("unique") is True


async def test_migrations_run_once_in_order(mongo_db) -> None:
    registry = IndexRegistry()
    ran: list[str] = []

    @registry.migration("001-seed")
    async def seed(db) -> None:
        ran.append("001")
        await db.products.insert_one({"code": "P1"})

    @registry.migration("002-backfill")
    async def backfill(db) -> None:
        ran.append("002")
        await db.products.update_many({}, {"$set": {"active": True}})

    await registry.apply(mongo_db)
    await registry.apply(mongo_db)
    assert ran == ["001", "002"]
    assert await mongo_db.products.find_one({"code": "P1"}, {"_id": 0}) == {
        "code": "P1",
        "active": True,
    }


async def test_transaction_commits_and_aborts(mongo_client, mongo_db) -> None:
    async with transaction(mongo_client) as session:
        await mongo_db.a.insert_one({"_id": 1}, session=session)
        await mongo_db.b.insert_one({"_id": 1}, session=session)
    assert await mongo_db.a.count_documents({}) == 1
    assert await mongo_db.b.count_documents({}) == 1

    async def fail_after_writing() -> None:
        async with transaction(mongo_client) as session:
            await mongo_db.a.insert_one({"_id": 2}, session=session)
            await mongo_db.b.insert_one({"_id": 2}, session=session)
            raise RuntimeError("the use case failed after writing")

    with pytest.raises(RuntimeError):
        await fail_after_writing()
    assert await mongo_db.a.count_documents({}) == 1
    assert await mongo_db.b.count_documents({}) == 1


async def test_transaction_tells_how_it_ended(mongo_client, mongo_db) -> None:
    """on_transaction_end: True once committed, False if rolled back, None if the commit
    failed without saying whether it happened."""
    outcomes: list[bool | None] = []
    async with transaction(mongo_client) as session:
        on_transaction_end(session, outcomes.append)
        await mongo_db.a.insert_one({"_id": 1}, session=session)
        assert outcomes == []  # not before the commit
    assert outcomes == [True]

    async def rolled_back() -> None:
        async with transaction(mongo_client) as session:
            on_transaction_end(session, outcomes.append)
            await mongo_db.a.insert_one({"_id": 2}, session=session)
            raise RuntimeError("the use case failed after writing")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert outcomes == [True, False]

    async def commit_lost() -> None:
        async with transaction(mongo_client) as session:
            on_transaction_end(session, outcomes.append)
            await mongo_db.a.insert_one({"_id": 3}, session=session)

            async def no_answer() -> None:
                raise PyMongoError("connection closed during commitTransaction")

            session.commit_transaction = no_answer  # type: ignore[method-assign]

    with pytest.raises(PyMongoError):
        await commit_lost()
    assert outcomes == [True, False, None]


async def test_write_conflict_is_conflict_and_run_in_transaction_retries(
    mongo_client, mongo_db
) -> None:
    await mongo_db.counters.insert_one({"_id": "c", "n": 0})

    async def overlapping_writes() -> None:
        async with transaction(mongo_client) as first:
            await mongo_db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=first)
            async with transaction(mongo_client) as second:
                await mongo_db.counters.update_one(
                    {"_id": "c"}, {"$inc": {"n": 1}}, session=second
                )

    # Two open transactions writing one document: the second one conflicts.
    with pytest.raises(Conflict):
        await overlapping_writes()

    await mongo_db.counters.update_one({"_id": "c"}, {"$set": {"n": 0}})

    async def increment(session) -> None:
        doc = await mongo_db.counters.find_one({"_id": "c"}, session=session)
        await mongo_db.counters.update_one(
            {"_id": "c"}, {"$set": {"n": doc["n"] + 1}}, session=session
        )

    # Read-modify-write from 8 concurrent writers: no update is lost.
    await asyncio.gather(*(run_in_transaction(mongo_client, increment, attempts=30)
                           for _ in range(8)))
    assert (await mongo_db.counters.find_one({"_id": "c"}))["n"] == 8


async def test_ping_reports_up_and_down(mongo_client) -> None:
    assert await ping(mongo_client) is True
    dead = create_mongo_client(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        app_name="mf-tests-dead",
        server_selection_timeout_ms=300,
    )
    try:
        started = time.monotonic()
        assert await ping(dead, deadline_seconds=1.0) is False
        assert time.monotonic() - started < 3
    finally:
        await dead.close()


async def test_a_transaction_against_a_dead_server_is_unavailable_within_the_timeout() -> None:
    """The driver labels a lost connection in a transaction transient, like a write
    conflict; it is an outage (UNAVAILABLE, no retries), not a conflict (ABORTED)."""
    dead = create_mongo_client(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        app_name="mf-tests-dead",
        server_selection_timeout_ms=400,
        connect_timeout_ms=400,
    )
    calls = 0

    async def body(session):
        nonlocal calls
        calls += 1
        await dead.db.things.insert_one({"n": 1}, session=session)

    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as err:
            await run_in_transaction(dead, body)
        elapsed = time.monotonic() - started
        assert status_code_for(err.value) is grpc.StatusCode.UNAVAILABLE
        assert "try again" in err.value.message
        assert "127.0.0.1" not in err.value.message  # the driver's text stays in the log
        # Selection waited once (0.4 s), then the outage reached the caller: not five
        # conflict retries of it.
        assert calls <= 2
        assert elapsed < 2.0, elapsed
    finally:
        await dead.close()


async def _free_for_another_client(mongo_url: str, db_name: str, within: float) -> float:
    """Seconds until a transaction of another client (another process: it cannot reuse the
    first one's server session, which would end the old transaction as a side effect) can
    write the counter; each try has a short budget, as a request has."""
    other = create_mongo_client(mongo_url, app_name="mf-tests-other")

    async def add_ten(session) -> None:
        await other[db_name].counters.update_one(
            {"_id": "c"}, {"$inc": {"n": 10}}, session=session
        )

    async def wrote() -> bool:
        try:
            with time_budget(1.0):
                await run_in_transaction(other, add_ten, attempts=2)
        except (Conflict, Unavailable):
            return False
        return True

    started = time.monotonic()
    try:
        await eventually(wrote, within=within, what="another client's write to the document")
    finally:
        await other.close()
    return time.monotonic() - started


async def test_a_transaction_whose_budget_runs_out_is_aborted_on_the_server(
    mongo_url, mongo_client, mongo_db
) -> None:
    """The budget spent mid-transaction: the abort still reaches the server (its own short
    timeout), so the document it wrote is free at once, not held against every other writer
    until the server's transaction lifetime (60 s) ends the transaction."""
    await mongo_db.counters.insert_one({"_id": "c", "n": 0})

    async def spent_midway() -> None:
        with time_budget(0.4):
            async with transaction(mongo_client) as session:
                await mongo_db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}},
                                                   session=session)
                await asyncio.sleep(0.5)  # a slow step: the budget runs out mid-transaction
                await mongo_db.counters.find_one({"_id": "c"}, session=session)

    with pytest.raises(Unavailable):
        await spent_midway()
    waited = await _free_for_another_client(mongo_url, mongo_db.name, within=10)
    assert waited < 5, waited
    assert (await mongo_db.counters.find_one({"_id": "c"}))["n"] == 10  # the first was undone


async def test_a_commit_the_budget_kept_from_going_out_is_settled_on_the_server(
    mongo_url, mongo_client, mongo_db
) -> None:
    """The body ends after the budget: the driver fails the commit without sending it, its
    outcome unknown to the caller (UNAVAILABLE). It is sent again with its own timeout, so
    the transaction ends on the server (here: it commits) instead of holding the document."""
    await mongo_db.counters.insert_one({"_id": "c", "n": 0})
    outcomes: list[bool | None] = []

    async def spent_before_commit() -> None:
        with time_budget(0.4):
            async with transaction(mongo_client) as session:
                on_transaction_end(session, outcomes.append)
                await mongo_db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}},
                                                   session=session)
                await asyncio.sleep(0.5)  # a slow step: the budget is spent before the commit

    with pytest.raises(Unavailable):
        await spent_before_commit()
    assert outcomes == [None]  # told it may or may not have committed
    waited = await _free_for_another_client(mongo_url, mongo_db.name, within=10)
    assert waited < 5, waited
    assert (await mongo_db.counters.find_one({"_id": "c"}))["n"] == 11


def test_client_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        create_mongo_client("mongodb://127.0.0.1:1/", app_name="outside-a-loop")
