"""Payments follow their loan's owner (loan.reassigned), against a real MongoDB.

The repository moves a loan's payments in the consumer's transaction and
ignores an event older than the owner it already has; a payment settled with
loan facts fetched before a reassignment takes the recorded owner instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from payment_service.adapters.payment_repository import LoanOwner, PaymentRepository
from payment_service.domain.payment import (
    Allocation,
    Applied,
    Channel,
    LoanFacts,
    Payment,
    PaymentStatus,
    PosterRole,
)
from payment_service.domain.receipt import Institution
from payment_service.service import PaymentService
from shared.events import Outbox
from shared.money import Money
from shared.mongo import run_in_transaction

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def pending(payment_id: str, loan_id: str, agent: str) -> Payment:
    return Payment(
        id=payment_id,
        idempotency_key=f"key-{payment_id}",
        fingerprint="f",
        loan_id=loan_id,
        amount=Money(5_000, "KES"),
        value_date=date(2026, 3, 10),
        channel=Channel.CASH,
        status=PaymentStatus.PENDING,
        posted_by=agent,
        poster_role=PosterRole.AGENT,
        created_at=T0,
        updated_at=T0,
        loan=LoanFacts("LN-2026-000001", "b1", "Amina Wanjiru", agent, "BR-1"),
    )


async def test_a_loans_payments_move_and_stale_events_change_nothing(
    mongo_client: Any, mongo_db: Any
) -> None:
    repo = PaymentRepository(mongo_db)
    for p in (pending("p1", "L1", "agent-a"), pending("p2", "L1", "agent-a"),
              pending("p3", "L2", "agent-a")):
        await repo.insert(p)

    async def follow(owner: LoanOwner) -> int:
        return await run_in_transaction(
            mongo_client, lambda s: repo.follow_loan("L1", owner, s)
        )

    assert await follow(LoanOwner("agent-b", "BR-2", T0 + timedelta(minutes=5))) == 2
    # A redelivered older event (agent-a again) must not move them back.
    assert await follow(LoanOwner("agent-a", "BR-1", T0)) == 0
    agents = {p: (await repo.get(p)).loan.agent_id for p in ("p1", "p2", "p3")}
    assert agents == {"p1": "agent-b", "p2": "agent-b", "p3": "agent-a"}
    owner = await repo.loan_owner("L1")
    assert owner is not None
    assert (owner.agent_id, owner.branch_id) == ("agent-b", "BR-2")
    assert await repo.loan_owner("L2") is None


async def test_a_payment_settled_after_a_reassignment_takes_the_new_owner(
    mongo_client: Any, mongo_db: Any
) -> None:
    repo = PaymentRepository(mongo_db)
    payment = pending("p9", "L9", "agent-a")
    await repo.insert(payment)
    # The reassignment is consumed while the loan's answer (agent-a) is in flight.
    await run_in_transaction(
        mongo_client,
        lambda s: repo.follow_loan("L9", LoanOwner("agent-b", "BR-2", T0), s),
    )
    applied = Applied(
        allocation=Allocation(interest=1_000, principal=4_000),
        loan_transaction_id="t1",
        recovery=False,
        loan_closed=False,
        loan=LoanFacts("LN-2026-000009", "b1", "Amina Wanjiru", "agent-a", "BR-1"),
    )
    service = PaymentService(
        repo,
        loans=None,  # type: ignore[arg-type]  # not reached: the loan's answer is given
        users=None,  # type: ignore[arg-type]
        transactions=lambda body: run_in_transaction(mongo_client, body),
        events=Outbox(mongo_db, producer="payment_service"),
        institution=Institution("MFI", "", ""),
    )
    settled = await service._settle_posted(payment, applied, "agent-a")
    assert settled.status is PaymentStatus.POSTED
    assert (settled.loan.agent_id, settled.loan.branch_id) == ("agent-b", "BR-2")
    assert (await repo.get("p9")).loan.agent_id == "agent-b"
    stored = await mongo_db.outbox.find({}, {"type": 1, "payload.agent_id": 1}).to_list()
    assert [(e["type"], e["payload"]["agent_id"]) for e in stored] == [
        ("payment.posted", "agent-b")
    ]
