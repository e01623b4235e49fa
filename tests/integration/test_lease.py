"""Work one replica at a time: the MongoDB lease, and the loan search backlog under it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.search import SearchBacklog
from shared.lease import Lease

pytestmark = pytest.mark.integration


async def test_one_holder_at_a_time_and_a_released_or_expired_lease_moves(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    first = Lease(mongo_db["leases"], "job", seconds=30, owner="one")
    second = Lease(mongo_db["leases"], "job", seconds=30, owner="two")
    assert await first.hold()
    assert not await second.hold()
    assert await first.hold()  # renewing is the holder's
    await first.release()
    assert await second.hold()
    assert not await first.hold()
    # A holder that went silent: its lease runs out and another takes it over.
    await mongo_db["leases"].update_one(
        {"_id": "job"}, {"$set": {"until": datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    assert await first.hold()
    assert first.held


async def test_a_loan_parked_again_while_being_swept_stays_parked(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    backlog = SearchBacklog(mongo_db)
    await backlog.add_many(["a", "b"])
    marks = await backlog.take_marked(10)
    assert set(marks) == {"a", "b"}
    await backlog.add("a")  # written (and parked) again while the sweep indexed it
    await backlog.done(list(marks), marks)
    assert await backlog.take(10) == ["a"]
    await backlog.done(["a"], await backlog.take_marked(10))
    assert await backlog.size() == 0
