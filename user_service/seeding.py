"""Bulk seeding of user_service's own data, run by the CLI without a server (`demo-data`).

Staff and borrowers are validated by the domain's own rules (``validate_fields``,
``validate_input``: E.164 phones, adults only, well-formed identity documents) and
written in bulk with the documents the repositories write: each borrower with its
identity-document keys (unique across borrowers), its history (created, then KYC
verified by an admin) and, optionally, the outbox events the use cases record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events import Outbox
from shared.identity import Role
from shared.records import created
from user_service.adapters.borrower_repository import (
    BORROWERS,
    HISTORY,
    IDENTITY_DOCUMENTS,
    history_doc,
    to_doc,
)
from user_service.adapters.staff_repository import STAFF, StaffRepository, from_doc
from user_service.borrower_service import EVENT_FOR, borrower_payload
from user_service.domain import borrower as rules
from user_service.domain.borrower import (
    AccountStatus,
    Borrower,
    BorrowerInput,
    HistoryAction,
    HistoryEntry,
    KycStatus,
)
from user_service.domain.staff import Staff, new_staff, validate_fields

PRODUCER = "user_service"


@dataclass(frozen=True, slots=True)
class StaffSeed:
    role: Role
    full_name: str
    email: str
    phone: str
    branch_id: str


async def ensure_staff(
    db: AsyncDatabase[dict[str, Any]], seeds: Sequence[StaffSeed], *, actor: str, now: datetime
) -> list[Staff]:
    """Each staff member by email: the stored record if the email exists, else a new one."""
    repo = StaffRepository(db)
    out: list[Staff] = []
    for seed in seeds:
        fields = validate_fields(
            role=seed.role.value,
            full_name=seed.full_name,
            email=seed.email,
            phone=seed.phone,
            branch_id=seed.branch_id,
            phone_region=None,
        )
        found = await db[STAFF].find_one({"email": fields["email"]})
        if found is not None:
            out.append(from_doc(found))
            continue
        staff = new_staff(uuid.uuid4().hex, fields, actor=actor, at=now)
        await repo.insert(staff)
        out.append(staff)
    return out


@dataclass(frozen=True, slots=True)
class SeededBorrower:
    borrower: Borrower
    history: tuple[HistoryEntry, ...]


def build_borrower(
    borrower_id: str,
    inp: BorrowerInput,
    *,
    agent_id: str,
    branch_id: str,
    verified_by: str,
    today: date,
    created_at: datetime,
    verified_at: datetime,
) -> SeededBorrower:
    """A borrower registered by their agent and KYC-verified by an admin; the input is
    checked by the same rules as CreateBorrower (InvalidArgument naming the field)."""
    profile = rules.validate_input(inp, today=today, phone_region=None)
    registered = Borrower(
        id=borrower_id,
        profile=profile,
        assigned_agent_id=agent_id,
        branch_id=branch_id,
        kyc_status=KycStatus.PENDING,
        account_status=AccountStatus.ACTIVE,
        **created(agent_id, created_at),
    )
    verified = replace(
        registered,
        kyc_status=KycStatus.VERIFIED,
        updated_by=verified_by,
        updated_at=verified_at,
        version=2,
    )
    history = (
        HistoryEntry(
            id=f"{borrower_id}-1", borrower_id=borrower_id, actor=agent_id, at=created_at,
            action=HistoryAction.CREATED, changes=rules.diff(None, registered), version=1,
        ),
        HistoryEntry(
            id=f"{borrower_id}-2", borrower_id=borrower_id, actor=verified_by, at=verified_at,
            action=HistoryAction.KYC_STATUS_CHANGED, changes=rules.diff(registered, verified),
            version=2,
        ),
    )
    return SeededBorrower(verified, history)


async def write_borrowers(
    db: AsyncDatabase[dict[str, Any]], seeded: Sequence[SeededBorrower], *, events: bool
) -> int:
    """Insert the borrowers, their identity keys, history and (``events``) outbox events;
    returns the number of events recorded. A taken identity key is a DuplicateKeyError."""
    if not seeded:
        return 0
    keys = [
        {"_id": key, "borrower_id": s.borrower.id, "type": key.partition(":")[0],
         "number": key.partition(":")[2], "claimed_at": s.borrower.created_at}
        for s in seeded
        for key in s.borrower.profile.identity_keys
    ]
    if keys:
        await db[IDENTITY_DOCUMENTS].insert_many(keys, ordered=False)
    await db[BORROWERS].insert_many([to_doc(s.borrower) for s in seeded], ordered=False)
    await db[HISTORY].insert_many(
        [history_doc(e) for s in seeded for e in s.history], ordered=False
    )
    if not events:
        return 0
    outbox = Outbox(db, producer=PRODUCER)
    out = []
    for s in seeded:
        for entry in s.history:
            state = replace(
                s.borrower,
                version=entry.version,
                kyc_status=KycStatus.PENDING if entry.version == 1 else KycStatus.VERIFIED,
            )
            payload = borrower_payload(state, [c.field for c in entry.changes])
            out.append(outbox.new_event(EVENT_FOR[entry.action], s.borrower.id, payload))
    await outbox.add(None, out)
    return len(out)


__all__ = ["SeededBorrower", "StaffSeed", "build_borrower", "ensure_staff", "write_borrowers"]
