"""Payments follow their loan's owner (loan.reassigned), against a real MongoDB.

The repository moves a loan's payments in the consumer's transaction and
ignores an event older than the owner it already has; a payment settled with
loan facts fetched before a reassignment takes the recorded owner instead.
The move marks the payments it touches, so the settle notices it in its own
compare-and-set and reads the payment again only then.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from payment_service.adapters.payment_repository import PaymentRepository
from payment_service.domain.payment import (
    Allocation,
    Applied,
    ApplyOutcome,
    Channel,
    LoanFacts,
    LoanOwner,
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


def applied_to(agent: str, branch: str) -> Applied:
    """The loan's answer, naming the owner the loan had when it applied the payment."""
    return Applied(
        allocation=Allocation(interest=1_000, principal=4_000),
        loan_transaction_id="t1",
        recovery=False,
        loan_closed=False,
        loan=LoanFacts("LN-2026-000009", "b1", "Amina Wanjiru", agent, branch),
    )


def service_on(mongo_client: Any, mongo_db: Any, repo: PaymentRepository,
               loans: Any = None) -> PaymentService:
    return PaymentService(
        repo,
        loans=loans,  # None where not reached: the loan's answer is given
        users=None,  # type: ignore[arg-type]
        transactions=lambda body: run_in_transaction(mongo_client, body),
        events=Outbox(mongo_db, producer="payment_service"),
        institution=Institution("MFI", "", ""),
    )


async def events_of(mongo_db: Any) -> list[tuple[str, str]]:
    # A payment's events are embedded in its document (the payments' embedded outbox).
    stored = await mongo_db.payments.find({"outbox": {"$exists": True}}, {"outbox": 1}).to_list()
    return [(e["type"], e["payload"]["agent_id"]) for p in stored for e in p["outbox"]]


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
    service = service_on(mongo_client, mongo_db, repo)
    settled = await service._settle_posted(payment, applied_to("agent-a", "BR-1"), "agent-a")
    assert settled.status is PaymentStatus.POSTED
    assert (settled.loan.agent_id, settled.loan.branch_id) == ("agent-b", "BR-2")
    assert (await repo.get("p9")).loan.agent_id == "agent-b"
    assert await events_of(mongo_db) == [("payment.posted", "agent-b")]


class ReassignedWhileApplying:
    """A loan service that answers with the old owner while the move is consumed meanwhile."""

    def __init__(self, mongo_client: Any, repo: PaymentRepository, service: Any) -> None:
        self._client, self._repo, self.service = mongo_client, repo, service

    async def apply(self, payment: Payment, *, agent_scope: str = "") -> ApplyOutcome:
        owner = LoanOwner("agent-b", "BR-2", T0)
        await run_in_transaction(
            self._client, lambda s: self.service.follow_loan(payment.loan_id, owner, s)
        )
        return applied_to("agent-a", "BR-1")


async def test_a_move_consumed_between_the_loans_answer_and_the_settle_keeps_the_new_owner(
    mongo_client: Any, mongo_db: Any
) -> None:
    repo = PaymentRepository(mongo_db)
    loans = ReassignedWhileApplying(mongo_client, repo, None)
    service = service_on(mongo_client, mongo_db, repo, loans)
    loans.service = service
    # An admin's posting: no scope check, straight to ApplyRepayment.
    payment = replace(pending("p7", "L7", "admin-1"), poster_role=PosterRole.ADMIN,
                      loan=LoanFacts())
    await repo.insert(payment)
    settled = await service._drive(payment, actor="admin-1", as_service=False)
    assert settled.status is PaymentStatus.POSTED
    assert (settled.loan.agent_id, settled.loan.branch_id) == ("agent-b", "BR-2")
    stored = await repo.get("p7")
    assert (stored.status, stored.loan.agent_id, stored.loan.branch_id) == (
        PaymentStatus.POSTED, "agent-b", "BR-2")
    assert stored.receipt_number == settled.receipt_number
    assert await events_of(mongo_db) == [("payment.posted", "agent-b")]
    # A redelivered older move still changes nothing afterwards.
    assert await run_in_transaction(
        mongo_client,
        lambda s: repo.follow_loan("L7", LoanOwner("agent-a", "BR-1", T0 - timedelta(hours=1)), s),
    ) == 0


async def test_a_move_consumed_before_the_pending_insert_leaves_the_loans_newer_answer(
    mongo_client: Any, mongo_db: Any
) -> None:
    repo = PaymentRepository(mongo_db)
    await run_in_transaction(
        mongo_client,
        lambda s: repo.follow_loan("L5", LoanOwner("agent-b", "BR-2", T0), s),
    )
    # The loan moved again (to agent-c) before it applied the payment; that event is on
    # its way. The loan's answer is the newer one: it is kept, not the recorded agent-b.
    payment = pending("p5", "L5", "agent-a")
    await repo.insert(payment)
    service = service_on(mongo_client, mongo_db, repo)
    settled = await service._settle_posted(payment, applied_to("agent-c", "BR-3"), "agent-a")
    assert (settled.loan.agent_id, settled.loan.branch_id) == ("agent-c", "BR-3")
    assert (await repo.get("p5")).loan.agent_id == "agent-c"
    assert await events_of(mongo_db) == [("payment.posted", "agent-c")]


async def test_a_moved_payment_settled_by_another_driver_is_not_settled_twice(
    mongo_client: Any, mongo_db: Any
) -> None:
    repo = PaymentRepository(mongo_db)
    payment = pending("p6", "L6", "agent-a")
    await repo.insert(payment)
    await run_in_transaction(
        mongo_client,
        lambda s: repo.follow_loan("L6", LoanOwner("agent-b", "BR-2", T0), s),
    )
    service = service_on(mongo_client, mongo_db, repo)
    first = await service._settle_posted(payment, applied_to("agent-a", "BR-1"), "agent-a")
    # A second driver with the same PENDING copy (the recovery loop) loses the race.
    second = await service._settle_posted(payment, applied_to("agent-a", "BR-1"), "loop")
    assert second.receipt_number == first.receipt_number
    assert second.updated_by == "agent-a"
    assert await events_of(mongo_db) == [("payment.posted", "agent-b")]
