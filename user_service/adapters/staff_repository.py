"""MongoDB storage for staff records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.errors import AlreadyExists, FieldViolation, NotFound
from shared.identity import Role
from shared.mongo import stamps_doc, stamps_from_doc
from shared.paging import Page
from user_service.domain.staff import Staff

STAFF = "staff"

STAFF_INDEXES: dict[str, list[IndexModel]] = {
    STAFF: [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("role", ASCENDING), ("branch_id", ASCENDING)], name="role_branch"),
        IndexModel([("created_at", ASCENDING)], name="created"),
    ]
}

SORTABLE = {"created_at": "created_at", "full_name": "full_name", "email": "email"}


def to_doc(staff: Staff) -> dict[str, Any]:
    return {
        "_id": staff.id,
        "role": staff.role.value,
        "full_name": staff.full_name,
        "email": staff.email,
        "phone": staff.phone,
        "branch_id": staff.branch_id,
        "active": staff.active,
        "deactivation_reason": staff.deactivation_reason,
        **stamps_doc(staff),
    }


def from_doc(doc: dict[str, Any]) -> Staff:
    return Staff(
        id=doc["_id"],
        role=Role(doc["role"]),
        full_name=doc["full_name"],
        email=doc["email"],
        phone=doc.get("phone", ""),
        branch_id=doc.get("branch_id", ""),
        active=bool(doc.get("active", True)),
        deactivation_reason=doc.get("deactivation_reason", ""),
        **stamps_from_doc(doc),
    )


class StaleStaffVersion(Exception):
    """The compare-and-set found another version: someone wrote first.

    Not ``Conflict``: ``run_in_transaction`` re-runs a body that raises ``Conflict``,
    and re-running with the same stale version can only fail again. The use case
    maps this to the public ``Conflict``.
    """

    def __init__(self, staff_id: str, current: int, expected: int) -> None:
        super().__init__(staff_id, current, expected)
        self.staff_id = staff_id
        self.current = current
        self.expected = expected


def _duplicate(existing_id: str | None) -> AlreadyExists:
    return AlreadyExists(
        "a staff member with this email already exists",
        violations=[FieldViolation("email", "already exists")],
        existing_id=existing_id,
    )


class StaffRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._staff = db[STAFF]

    async def insert(self, staff: Staff, session: AsyncClientSession | None = None) -> None:
        try:
            await self._staff.insert_one(to_doc(staff), session=session)
        except DuplicateKeyError as exc:
            raise _duplicate(await self._id_of(staff.email)) from exc

    async def _id_of(self, email: str) -> str | None:
        # Read outside any aborted transaction, so the winner of the race is visible.
        doc = await self._staff.find_one({"email": email}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    async def remove_unactivated(
        self, staff_id: str, session: AsyncClientSession | None = None
    ) -> None:
        """Undo an insert whose credential could not be created (never usable)."""
        await self._staff.delete_one({"_id": staff_id, "version": 1}, session=session)

    async def get(self, staff_id: str, session: AsyncClientSession | None = None) -> Staff:
        doc = await self._staff.find_one({"_id": staff_id}, session=session)
        if doc is None:
            raise NotFound(f"staff {staff_id} not found")
        return from_doc(doc)

    async def count(self) -> int:
        return await self._staff.count_documents({})

    async def list(
        self, *, role: str | None, branch_id: str | None, active: bool | None, page: Page
    ) -> tuple[list[Staff], int]:
        query: dict[str, Any] = {}
        if role:
            query["role"] = role
        if branch_id:
            query["branch_id"] = branch_id
        if active is not None:
            query["active"] = active
        total = await self._staff.count_documents(query)
        cursor = self._staff.find(query).sort(page.sort).skip(page.offset).limit(page.size)
        return [from_doc(d) async for d in cursor], total

    async def update(
        self,
        staff_id: str,
        expected_version: int,
        changes: dict[str, Any],
        actor: str,
        now: datetime,
        session: AsyncClientSession | None = None,
    ) -> Staff:
        """Compare-and-set on ``version``: a concurrent writer gets ``StaleStaffVersion``."""
        try:
            doc = await self._staff.find_one_and_update(
                {"_id": staff_id, "version": expected_version},
                {
                    "$set": {**changes, "updated_by": actor, "updated_at": now},
                    "$inc": {"version": 1},
                },
                return_document=ReturnDocument.AFTER,
                session=session,
            )
        except DuplicateKeyError as exc:
            raise _duplicate(await self._id_of(str(changes.get("email", "")))) from exc
        if doc is None:
            current = await self.get(staff_id, session)  # NotFound if it vanished
            raise StaleStaffVersion(staff_id, current.version, expected_version)
        return from_doc(doc)
