"""First-admin bootstrap: the staff record, written by the code that owns it."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.clock import utcnow
from shared.identity import Role
from user_service.adapters.staff_repository import StaffRepository, from_doc
from user_service.domain.staff import Staff, validate_fields


async def ensure_admin_staff(
    db: AsyncDatabase[dict[str, Any]], *, email: str, full_name: str, branch_id: str = "HQ"
) -> tuple[Staff, bool]:
    """Returns the admin's staff record and whether it was created now."""
    fields = validate_fields(
        role=Role.ADMIN.value,
        full_name=full_name,
        email=email,
        phone="",
        branch_id=branch_id,
        phone_region=None,
    )
    existing = await db["staff"].find_one({"email": fields["email"]})
    if existing is not None:
        return from_doc(existing), False
    now = utcnow()
    staff = Staff(
        id=uuid.uuid4().hex,
        created_by="bootstrap",
        created_at=now,
        updated_by="bootstrap",
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )
    await StaffRepository(db).insert(staff)
    return staff, True
