"""MongoDB storage for borrowers, their identity-document keys and their audit trail.

Identity documents are unique by (type, number) across all borrowers. Each key
is the ``_id`` of a document in ``borrower_identity_documents``, inserted in the
same transaction as the borrower, so the unique ``_id`` decides races: of two
concurrent creates with the same document exactly one commits (on MongoDB and
on the substitute alike; the loser sees a write conflict, is retried, and then
finds the key taken).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.errors import NotFound
from shared.money import Money
from shared.mongo import stamps_doc, stamps_from_doc
from shared.paging import Page
from user_service.domain.borrower import (
    AccountStatus,
    Address,
    Borrower,
    EmergencyContact,
    Employment,
    EmploymentStatus,
    FieldChange,
    Gender,
    HistoryAction,
    HistoryEntry,
    IdentityDocument,
    IdType,
    KycStatus,
    MaritalStatus,
    Profile,
    RiskProfile,
)
from user_service.domain.search_keys import fold

BORROWERS = "borrowers"
IDENTITY_DOCUMENTS = "borrower_identity_documents"
HISTORY = "borrower_history"

BORROWER_INDEXES: dict[str, list[IndexModel]] = {
    BORROWERS: [
        IndexModel(
            [("assigned_agent_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
            name="agent_created",
        ),
        IndexModel(
            [("assigned_agent_id", ASCENDING), ("sort.last", ASCENDING), ("sort.first", ASCENDING)],
            name="agent_last_name",
        ),
        IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="created"),
        IndexModel([("sort.last", ASCENDING), ("sort.first", ASCENDING)], name="last_name"),
        IndexModel(
            [("account_status", ASCENDING), ("kyc_status", ASCENDING)], name="statuses"
        ),
        IndexModel([("branch_id", ASCENDING), ("created_at", ASCENDING)], name="branch_created"),
    ],
    IDENTITY_DOCUMENTS: [IndexModel([("borrower_id", ASCENDING)], name="by_borrower")],
    HISTORY: [
        IndexModel(
            [("borrower_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
            name="by_borrower_newest",
        )
    ],
}

# API order_by names -> stored fields.
SORTABLE = {"created_at": "created_at", "last_name": "sort.last", "first_name": "sort.first"}


class DuplicateIdentity(Exception):
    """An identity document key is already held (the transaction is aborted)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class StaleVersion(Exception):
    """The compare-and-set found another version: someone wrote first."""


# ------------------------------------------------------------------ mapping


def _address(doc: dict[str, Any] | None) -> Address:
    d = doc or {}
    return Address(
        line1=d.get("line1", ""),
        line2=d.get("line2", ""),
        city=d.get("city", ""),
        region=d.get("region", ""),
        postal_code=d.get("postal_code", ""),
        country=d.get("country", ""),
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def to_doc(b: Borrower) -> dict[str, Any]:
    p = b.profile
    income = p.employment.monthly_income
    return {
        "_id": b.id,
        "first_name": p.first_name,
        "middle_name": p.middle_name,
        "last_name": p.last_name,
        "date_of_birth": p.date_of_birth.isoformat(),
        "gender": p.gender.value if p.gender else "",
        "nationality": p.nationality,
        "marital_status": p.marital_status.value if p.marital_status else "",
        "phone": p.phone,
        "alternate_phone": p.alternate_phone,
        "email": p.email,
        "current_address": asdict(p.current_address),
        "permanent_address": asdict(p.permanent_address),
        "identity_documents": [
            {
                "type": d.type.value,
                "number": d.number,
                "issuer": d.issuer,
                "issue_date": d.issue_date.isoformat() if d.issue_date else "",
                "expiry_date": d.expiry_date.isoformat() if d.expiry_date else "",
            }
            for d in p.identity_documents
        ],
        "identity_keys": p.identity_keys,
        "employment": {
            "status": p.employment.status.value if p.employment.status else "",
            "employer_or_business": p.employment.employer_or_business,
            "occupation": p.employment.occupation,
            "monthly_income": {"amount_minor": income.amount_minor, "currency": income.currency}
            if income
            else None,
        },
        "emergency_contact": {
            "name": p.emergency_contact.name,
            "relationship": p.emergency_contact.relationship,
            "phone": p.emergency_contact.phone,
        },
        "notes": p.notes,
        "kyc_status": b.kyc_status.value,
        "kyc_note": b.kyc_note,
        "risk_profile": b.risk_profile.value if b.risk_profile else "",
        "account_status": b.account_status.value,
        "assigned_agent_id": b.assigned_agent_id,
        "branch_id": b.branch_id,
        "deactivation_reason": b.deactivation_reason,
        # Case- and accent-insensitive sort keys for the list order_by.
        "sort": {"first": fold(p.first_name), "last": fold(p.last_name)},
        **stamps_doc(b),
    }


def from_doc(doc: dict[str, Any]) -> Borrower:
    job = doc.get("employment") or {}
    income = job.get("monthly_income")
    contact = doc.get("emergency_contact") or {}
    profile = Profile(
        first_name=doc["first_name"],
        middle_name=doc.get("middle_name", ""),
        last_name=doc["last_name"],
        date_of_birth=date.fromisoformat(doc["date_of_birth"]),
        phone=doc["phone"],
        gender=Gender(doc["gender"]) if doc.get("gender") else None,
        nationality=doc.get("nationality", ""),
        marital_status=MaritalStatus(doc["marital_status"]) if doc.get("marital_status") else None,
        alternate_phone=doc.get("alternate_phone", ""),
        email=doc.get("email", ""),
        current_address=_address(doc.get("current_address")),
        permanent_address=_address(doc.get("permanent_address")),
        identity_documents=tuple(
            IdentityDocument(
                type=IdType(d["type"]),
                number=d["number"],
                issuer=d.get("issuer", ""),
                issue_date=_date(d.get("issue_date")),
                expiry_date=_date(d.get("expiry_date")),
            )
            for d in doc.get("identity_documents", [])
        ),
        employment=Employment(
            status=EmploymentStatus(job["status"]) if job.get("status") else None,
            employer_or_business=job.get("employer_or_business", ""),
            occupation=job.get("occupation", ""),
            monthly_income=Money(int(income["amount_minor"]), income["currency"])
            if income
            else None,
        ),
        emergency_contact=EmergencyContact(
            name=contact.get("name", ""),
            relationship=contact.get("relationship", ""),
            phone=contact.get("phone", ""),
        ),
        notes=doc.get("notes", ""),
    )
    return Borrower(
        id=doc["_id"],
        profile=profile,
        assigned_agent_id=doc["assigned_agent_id"],
        branch_id=doc.get("branch_id", ""),
        kyc_status=KycStatus(doc.get("kyc_status") or KycStatus.PENDING.value),
        kyc_note=doc.get("kyc_note", ""),
        risk_profile=RiskProfile(doc["risk_profile"]) if doc.get("risk_profile") else None,
        account_status=AccountStatus(doc.get("account_status") or AccountStatus.ACTIVE.value),
        deactivation_reason=doc.get("deactivation_reason", ""),
        **stamps_from_doc(doc),
    )


def history_doc(e: HistoryEntry) -> dict[str, Any]:
    return {
        "_id": e.id,
        "borrower_id": e.borrower_id,
        "actor": e.actor,
        "at": e.at,
        "action": e.action.value,
        "changes": [{"field": c.field, "old": c.old_value, "new": c.new_value} for c in e.changes],
        "reason": e.reason,
        "version": e.version,
    }


def history_from_doc(doc: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        id=doc["_id"],
        borrower_id=doc["borrower_id"],
        actor=doc["actor"],
        at=doc["at"],
        action=HistoryAction(doc["action"]),
        changes=tuple(
            FieldChange(c["field"], c.get("old", ""), c.get("new", ""))
            for c in doc.get("changes", [])
        ),
        reason=doc.get("reason", ""),
        version=int(doc.get("version", 1)),
    )


# ------------------------------------------------------------------ queries


@dataclass(frozen=True, slots=True)
class BorrowerFilter:
    agent_id: str = ""
    kyc_status: str = ""
    account_status: str = ""
    branch_id: str = ""
    # Half-open [created_from, created_before).
    created_from: datetime | None = None
    created_before: datetime | None = None

    def query(self) -> dict[str, Any]:
        q: dict[str, Any] = {}
        if self.agent_id:
            q["assigned_agent_id"] = self.agent_id
        if self.kyc_status:
            q["kyc_status"] = self.kyc_status
        if self.account_status:
            q["account_status"] = self.account_status
        if self.branch_id:
            q["branch_id"] = self.branch_id
        created: dict[str, datetime] = {}
        if self.created_from is not None:
            created["$gte"] = self.created_from
        if self.created_before is not None:
            created["$lt"] = self.created_before
        if created:
            q["created_at"] = created
        return q


Session = AsyncClientSession | None


class BorrowerRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._borrowers = db[BORROWERS]
        self._identity = db[IDENTITY_DOCUMENTS]
        self._history = db[HISTORY]

    async def _claim(self, keys: Iterable[str], borrower_id: str, now: datetime | None,
                     session: Session) -> None:
        # One insert per key, so the key that collided is known.
        for key in keys:
            kind, _, number = key.partition(":")
            try:
                await self._identity.insert_one(
                    {"_id": key, "borrower_id": borrower_id, "type": kind, "number": number,
                     "claimed_at": now},
                    session=session,
                )
            except DuplicateKeyError:
                raise DuplicateIdentity(key) from None

    async def insert(self, borrower: Borrower, session: Session = None) -> None:
        await self._claim(
            borrower.profile.identity_keys, borrower.id, borrower.created_at, session
        )
        await self._borrowers.insert_one(to_doc(borrower), session=session)

    async def find(self, borrower_id: str, session: Session = None) -> Borrower | None:
        doc = await self._borrowers.find_one({"_id": borrower_id}, session=session)
        return from_doc(doc) if doc is not None else None

    async def get(self, borrower_id: str, session: Session = None) -> Borrower:
        found = await self.find(borrower_id, session)
        if found is None:
            raise NotFound(f"borrower {borrower_id} not found")
        return found

    async def get_many(self, ids: Sequence[str]) -> dict[str, Borrower]:
        if not ids:
            return {}
        cursor = self._borrowers.find({"_id": {"$in": list(ids)}})
        return {doc["_id"]: from_doc(doc) async for doc in cursor}

    async def owner_of(self, identity_key: str) -> str | None:
        doc = await self._identity.find_one({"_id": identity_key}, {"borrower_id": 1})
        return str(doc["borrower_id"]) if doc is not None else None

    async def replace(
        self, new: Borrower, expected_version: int, old_keys: Sequence[str], session: Session
    ) -> None:
        """Compare-and-set on ``version``; identity keys move with the record, atomically."""
        new_keys = new.profile.identity_keys
        released = [k for k in old_keys if k not in new_keys]
        if released:
            await self._identity.delete_many(
                {"_id": {"$in": released}, "borrower_id": new.id}, session=session
            )
        await self._claim(
            [k for k in new_keys if k not in old_keys], new.id, new.updated_at, session
        )
        result = await self._borrowers.replace_one(
            {"_id": new.id, "version": expected_version}, to_doc(new), session=session
        )
        if result.matched_count != 1:
            raise StaleVersion(new.id)

    async def list_page(self, flt: BorrowerFilter, page: Page) -> tuple[list[Borrower], int]:
        query = flt.query()
        total = await self._borrowers.count_documents(query)
        cursor = self._borrowers.find(query).sort(page.sort).skip(page.offset).limit(page.size)
        return [from_doc(d) async for d in cursor], total

    async def count(self) -> int:
        return await self._borrowers.count_documents({})

    async def batches(self, size: int = 500) -> AsyncIterator[list[Borrower]]:
        """Every borrower, by id, in batches (a keyset walk, not skip: O(n) overall)."""
        last: str | None = None
        while True:
            query: dict[str, Any] = {"_id": {"$gt": last}} if last is not None else {}
            docs = await self._borrowers.find(query).sort("_id", ASCENDING).to_list(size)
            if not docs:
                return
            last = docs[-1]["_id"]
            yield [from_doc(d) for d in docs]
            if len(docs) < size:
                return

    async def add_history(self, entry: HistoryEntry, session: Session) -> None:
        await self._history.insert_one(history_doc(entry), session=session)

    async def history(self, borrower_id: str, page: Page) -> tuple[list[HistoryEntry], int]:
        query = {"borrower_id": borrower_id}
        total = await self._history.count_documents(query)
        cursor = (
            self._history.find(query)
            .sort([("at", DESCENDING), ("version", DESCENDING), ("_id", DESCENDING)])
            .skip(page.offset)
            .limit(page.size)
        )
        return [history_from_doc(d) async for d in cursor], total
