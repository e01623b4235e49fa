"""One loan per payment id, held by the loans' own unique ``payment_ids`` index (issue 15:
it was a ``loan_payments`` document inserted with every repayment)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.loan_repository import LOAN_INDEXES, LoanRepository
from loan_service.migrations import REGISTRY
from loan_service.service import LoanService
from shared.errors import AlreadyExists
from shared.events import Outbox
from shared.identity import Caller, Role
from shared.money import Money
from shared.mongo import IndexRegistry, run_in_transaction
from tests.integration.eod_support import fixed_clock, portfolio, seed

TODAY = date(2026, 5, 20)
Db = AsyncDatabase[dict[str, Any]]
Client = AsyncMongoClient[dict[str, Any]]
SERVICE = Caller(subject="service:payment", role=Role.SERVICE)


def service(client: Client, db: Db, today: Any) -> LoanService:
    async def in_transaction(body: Any) -> Any:
        return await run_in_transaction(client, body)

    return LoanService(
        None,  # type: ignore[arg-type]  # products: not used by a repayment
        LoanRepository(db),
        None,  # type: ignore[arg-type]  # borrowers: not used by a repayment
        in_transaction,
        Outbox(db, producer="loan_service"),
        clock=lambda: fixed_clock(today),
    )


async def apply(loans: LoanService, loan_id: str, payment_id: str, today: Any) -> Any:
    return await loans.apply_repayment(
        SERVICE,
        loan_id,
        on_behalf_of="agent-1",
        payment_id=payment_id,
        amount=Money(1_000, "USD"),
        value_date=today,
    )


@pytest.fixture
async def loans_db(mongo_db: Db) -> Db:
    await IndexRegistry(LOAN_INDEXES).apply(mongo_db)
    return mongo_db


async def test_one_payment_id_racing_onto_several_loans_lands_on_one(
    mongo_client: Client, loans_db: Db
) -> None:
    today = TODAY
    stored = portfolio(today, count=6)
    await seed(loans_db, stored)
    loans = service(mongo_client, loans_db, today)
    targets = [loan.id for loan in stored if loan.status.value == "ACTIVE"][:4]
    for round_ in range(5):
        payment_id = f"race-{round_}"
        answers = await asyncio.gather(
            *(apply(loans, loan_id, payment_id, today) for loan_id in targets * 2),
            return_exceptions=True,
        )
        applied = [a for a in answers if not isinstance(a, BaseException)]
        refused = [a for a in answers if isinstance(a, BaseException)]
        assert all(isinstance(e, AlreadyExists) for e in refused), refused
        holders = [d["_id"] async for d in loans_db["loans"].find({"payment_ids": payment_id})]
        assert len(holders) == 1
        # The winner's repeats are replays of its one transaction; every other loan refused.
        assert {a.transaction.id for a in applied} == {
            t.id
            for t in (await LoanRepository(loans_db).get(holders[0])).transactions
            if t.payment_id == payment_id
        }
        assert len(refused) == 2 * len(targets) - len(applied)
        assert await LoanRepository(loans_db).payment_loan(payment_id) == holders[0]
        for loan_id in targets:
            if loan_id != holders[0]:
                other = await LoanRepository(loans_db).get(loan_id)
                assert all(t.payment_id != payment_id for t in other.transactions)


async def test_loans_stored_before_get_their_payment_ids(
    mongo_client: Client, mongo_db: Db
) -> None:
    today = TODAY
    stored = portfolio(today, count=6)
    await seed(mongo_db, stored)
    paid = [loan for loan in stored if any(t.payment_id for t in loan.transactions)]
    assert paid
    # As the version before stored them: no payment_ids, one loan_payments document each.
    await mongo_db["loans"].update_many({}, {"$unset": {"payment_ids": ""}})
    legacy = paid[0]
    legacy_id = next(t.payment_id for t in legacy.transactions if t.payment_id)
    await mongo_db["loan_payments"].insert_one({"_id": legacy_id, "loan_id": legacy.id})
    repo = LoanRepository(mongo_db)
    assert await repo.payment_loan(legacy_id) == legacy.id  # read from loan_payments

    await REGISTRY.apply(mongo_db)
    for loan in paid:
        doc = await mongo_db["loans"].find_one({"_id": loan.id})
        assert doc is not None
        held = sorted({t.payment_id for t in loan.transactions if t.payment_id})
        assert doc["payment_ids"] == held
    await mongo_db["loan_payments"].delete_many({})
    assert await repo.payment_loan(legacy_id) == legacy.id  # now from the loan itself
    # And the index holds: the id cannot go onto another loan.
    loans = service(mongo_client, mongo_db, today)
    other = next(loan for loan in stored if loan.id != legacy.id and loan.status.value == "ACTIVE")
    with pytest.raises(AlreadyExists):
        await apply(loans, other.id, legacy_id, today)
