"""Building a BorrowerService on real backends, and borrower inputs, for the tests."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch
from pymongo.asynchronous.database import AsyncDatabase

from shared.cache import Cache
from shared.events import Outbox
from shared.identity import Caller, Role
from shared.mongo import IndexRegistry, MongoClient, run_in_transaction
from shared.paging import page_of
from user_service.adapters.borrower_cache import BorrowerCache
from user_service.adapters.borrower_repository import BORROWER_INDEXES, BorrowerRepository
from user_service.adapters.borrower_search import BorrowerSearch
from user_service.adapters.staff_repository import STAFF_INDEXES, StaffRepository
from user_service.borrower_service import BorrowerService
from user_service.domain.borrower import (
    AddressInput,
    BorrowerInput,
    EmergencyContactInput,
    EmploymentInput,
    IdentityDocumentInput,
    MoneyInput,
)
from user_service.domain.staff import Staff

TODAY = date(2026, 11, 28)
_numbers = itertools.count(1)


def unique_number(prefix: str = "ID") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}{next(_numbers)}"


def unique_phone() -> str:
    # Kenyan mobile numbers: +2547XXXXXXXX, valid for phonenumbers.
    return f"+2547{uuid.uuid4().int % 10**8:08d}"


def borrower_input(**overrides: Any) -> BorrowerInput:
    base = BorrowerInput(
        first_name="Amina",
        middle_name="",
        last_name="Okafor",
        date_of_birth="1990-04-12",
        gender="FEMALE",
        nationality="KE",
        marital_status="MARRIED",
        phone=unique_phone(),
        email="",
        current_address=AddressInput(line1="12 Moi Avenue", city="Nairobi", country="KE"),
        identity_documents=(
            IdentityDocumentInput(
                type="NATIONAL_ID",
                number=unique_number(),
                issuer="Republic of Kenya",
                issue_date="2015-01-10",
                expiry_date="2035-01-10",
            ),
        ),
        employment=EmploymentInput(
            status="SELF_EMPLOYED",
            employer_or_business="Market stall",
            monthly_income=MoneyInput(4_500_000, "KES"),
        ),
        emergency_contact=EmergencyContactInput(
            name="Grace Okafor", relationship="sister", phone=unique_phone()
        ),
    )
    return replace(base, **overrides)


def national_id(number: str) -> tuple[IdentityDocumentInput, ...]:
    return (IdentityDocumentInput(type="NATIONAL_ID", number=number),)


def agent(staff_id: str | None = None, branch: str = "BR-01") -> Caller:
    sid = staff_id or uuid.uuid4().hex
    return Caller(subject=sid, role=Role.AGENT, agent_id=sid, branch_id=branch)


def admin() -> Caller:
    return Caller(subject=f"admin-{uuid.uuid4().hex[:8]}", role=Role.ADMIN, branch_id="HQ")


def page(size: int = 50, token: str = "", order_by: str = "") -> Any:
    from user_service.adapters.borrower_repository import SORTABLE

    return page_of(size, token, order_by, SORTABLE, [("created_at", -1)])


@dataclass
class Env:
    service: BorrowerService
    repo: BorrowerRepository
    staff: StaffRepository
    search: BorrowerSearch
    cache: BorrowerCache
    outbox: Outbox
    db: AsyncDatabase[dict[str, Any]]
    agents: list[Caller] = field(default_factory=list)

    async def new_agent(self, *, active: bool = True) -> Caller:
        caller = agent()
        now = datetime.now(UTC)
        await self.staff.insert(
            Staff(
                id=caller.subject,
                role=Role.AGENT,
                full_name="Field Agent",
                email=f"{caller.subject}@mfi.test",
                phone="",
                branch_id="BR-01",
                active=active,
                created_at=now,
                updated_at=now,
            )
        )
        self.agents.append(caller)
        return caller


async def make_env(
    mongo_client: MongoClient,
    db: AsyncDatabase[dict[str, Any]],
    es: AsyncElasticsearch,
    es_prefix: str,
    cache: Cache,
    *,
    repo: BorrowerRepository | None = None,
) -> Env:
    await IndexRegistry(STAFF_INDEXES).merge(IndexRegistry(BORROWER_INDEXES)).apply(db)
    repo = repo or BorrowerRepository(db)
    staff = StaffRepository(db)
    search = BorrowerSearch(es, es_prefix, phone_region="KE")
    borrower_cache = BorrowerCache(cache)
    outbox = Outbox(db, producer="user_service")

    async def tx(body: Any) -> Any:
        return await run_in_transaction(mongo_client, body)

    service = BorrowerService(
        repo,
        staff,
        borrower_cache,
        search,
        tx,
        outbox,
        phone_region="KE",
        business_date=lambda: TODAY,
    )
    return Env(service, repo, staff, search, borrower_cache, outbox, db)
