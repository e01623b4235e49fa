"""Money enters or leaves a loan only through payment_service, called over gRPC directly.

ApplyRepayment and ReverseRepayment take payment_service's SERVICE token and nobody
else's: a repayment booked by a staff token would sit on the loan with no payment
record, no receipt and no line in the cash summary.
"""

from __future__ import annotations

import uuid

import grpc
import pytest

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import clients, md
from tests.e2e.payment_support import (
    TODAY,
    loan_for,
    loan_state,
    loan_transactions,
    portfolio,
    post,
)

pytestmark = pytest.mark.e2e


async def _denied(call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED, err.value.details()
    return err.value.details() or ""


async def test_staff_tokens_cannot_book_or_reverse_money_on_a_loan(
    stack: Stack, admin: Login
) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)

        # The way money does go in: posted to payment_service, which applies it as itself
        # and names the agent, who is recorded as the transaction's actor.
        r = await post(stack, p.agent, loan.id, 2_000)
        assert r.status_code == 201, r.text
        posted = r.json()
        (txn,) = [
            t for t in await loan_transactions(c, admin, loan.id) if t.type == loan_pb2.REPAYMENT
        ]
        assert (txn.payment_id, txn.actor) == (posted["id"], p.agent.staff_id)
        assert posted["receipt_number"]

        def apply(payment_id: str, who: Login) -> object:
            return c.loans.ApplyRepayment(
                loan_pb2.ApplyRepaymentRequest(
                    loan_id=loan.id,
                    payment_id=payment_id,
                    amount=common_pb2.Money(amount_minor=500, currency="USD"),
                    value_date=TODAY.isoformat(),
                    channel=common_pb2.CASH,
                    on_behalf_of=who.staff_id,
                ),
                metadata=md(who),
            )

        def reverse(payment_id: str, who: Login) -> object:
            return c.loans.ReverseRepayment(
                loan_pb2.ReverseRepaymentRequest(
                    payment_id=payment_id, reason="direct", on_behalf_of=who.staff_id
                ),
                metadata=md(who),
            )

        for who in (p.agent, admin):
            fresh = await _denied(apply(f"PAY-{uuid.uuid4().hex[:12]}", who))
            # An id that exists (payment_service's) gets the same answer as a new one.
            assert await _denied(apply(posted["id"], who)) == fresh
            assert await _denied(reverse(posted["id"], who)) == await _denied(
                reverse(f"PAY-{uuid.uuid4().hex[:12]}", who)
            )
        after = await loan_state(c, admin, loan.id)
        assert after.summary.total_paid.amount_minor == 2_000

        # A SERVICE caller must say whom the money is for.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.loans.ApplyRepayment(
                loan_pb2.ApplyRepaymentRequest(
                    loan_id=loan.id,
                    payment_id=f"PAY-{uuid.uuid4().hex[:12]}",
                    amount=common_pb2.Money(amount_minor=500, currency="USD"),
                    value_date=TODAY.isoformat(),
                    channel=common_pb2.CASH,
                ),
                metadata=c.service,
            )
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "on_behalf_of" in (err.value.details() or "")

        # The reversal goes through payment_service too, recorded for the admin.
        back = await stack.client.post(
            f"/api/v1/payments/{posted['id']}/reverse",
            json={"reason": "cheque bounced"},
            headers=admin.headers,
        )
        assert back.status_code == 200, back.text
        assert back.json()["status"] == "REVERSED"
        reversal = [
            t for t in await loan_transactions(c, admin, loan.id) if t.type == loan_pb2.REVERSAL
        ]
        assert [t.actor for t in reversal] == [admin.staff_id]
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 0


async def test_agent_scope_applies_only_to_that_agents_loan(stack: Stack, admin: Login) -> None:
    """payment_service's scope check for an agent's payment is part of ApplyRepayment."""
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        stranger = await stack.ready_staff(admin)

        def apply(payment_id: str, scope: str) -> object:
            return c.loans.ApplyRepayment(
                loan_pb2.ApplyRepaymentRequest(
                    loan_id=loan.id,
                    payment_id=payment_id,
                    amount=common_pb2.Money(amount_minor=700, currency="USD"),
                    value_date=TODAY.isoformat(),
                    channel=common_pb2.CASH,
                    on_behalf_of=scope,
                    agent_scope=scope,
                ),
                metadata=c.service,
            )

        # Another agent's loan is NOT_FOUND, word for word as an unknown loan, and nothing moves.
        foreign = f"PAY-{uuid.uuid4().hex[:12]}"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await apply(foreign, stranger.staff_id)  # type: ignore[misc]
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        assert err.value.details() == f"loan {loan.id} not found"
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 0
        assert [t for t in await loan_transactions(c, admin, loan.id) if t.payment_id] == []

        # The loan's own agent: applied, recorded for the agent; a repeat is a replay.
        mine = f"PAY-{uuid.uuid4().hex[:12]}"
        first = await apply(mine, p.agent.staff_id)  # type: ignore[misc]
        assert not first.replayed
        assert first.transaction.actor == p.agent.staff_id
        again = await apply(mine, p.agent.staff_id)  # type: ignore[misc]
        assert (again.replayed, again.transaction.id) == (True, first.transaction.id)
        # The refused id was never recorded: it can still be applied in scope.
        assert not (await apply(foreign, p.agent.staff_id)).replayed  # type: ignore[misc]
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 1_400
