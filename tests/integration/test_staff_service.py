"""Staff use cases on real MongoDB: compare-and-set updates."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import Conflict
from shared.events import Outbox
from shared.mongo import IndexRegistry, run_in_transaction
from tests.integration.borrower_support import admin
from user_service.adapters.staff_repository import STAFF_INDEXES, StaffRepository
from user_service.service import NewStaff, StaffService

pytestmark = pytest.mark.integration


class _Credentials:
    async def create(self, **_: Any) -> None:
        return None

    async def update(self, staff_id: str, **_: Any) -> None:
        return None

    async def set_active(self, staff_id: str, active: bool) -> None:
        return None

    async def reset_password(self, staff_id: str, password: str) -> None:
        return None


async def test_lost_version_race_answers_conflict_after_one_attempt(
    mongo_client: Any, mongo_db: Any
) -> None:
    """A stale version is not transient: the body must not be re-run five times."""
    await IndexRegistry(STAFF_INDEXES).apply(mongo_db)
    repo = StaffRepository(mongo_db)
    attempts = 0
    race: dict[str, str] = {}

    async def tx(body: Any) -> Any:
        async def counted(session: Any) -> Any:
            nonlocal attempts
            attempts += 1
            if race:
                # Another writer commits between the use case's read and its write.
                await mongo_db["staff"].update_one(
                    {"_id": race["id"]}, {"$inc": {"version": 1}}
                )
            return await body(session)

        return await run_in_transaction(mongo_client, counted)

    service = StaffService(repo, _Credentials(), tx, Outbox(mongo_db, producer="user_service"))
    caller = admin()
    staff = await service.create(
        caller,
        NewStaff("AGENT", "Field Agent", "race@example.org", "", "BR-01", "initial-pass-123"),
    )
    race["id"] = staff.id
    attempts = 0
    with pytest.raises(Conflict, match="changed concurrently"):
        await service.update(caller, staff.id, {"full_name": "Renamed"}, ["full_name"])
    assert attempts == 1
    stored = await repo.get(staff.id)
    assert stored.full_name == "Field Agent"
