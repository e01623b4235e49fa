"""Repayments and the loan ledger through the running loan_service.

Concurrency (20 repayments at once, and two service replicas racing on one
loan), idempotency on payment_id, the payoff quote, backdating, reversal,
write-off and recovery, waivers and the collection sheet.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest

from loan_service.adapters.loan_repository import LoanRepository
from loan_service.adapters.product_repository import ProductRepository
from loan_service.service import LoanService
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.errors import InvalidArgument
from shared.identity import Caller, Role
from shared.money import Money
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import (
    Clients,
    active_loan,
    clients,
    loan_events,
    make_borrower,
    make_product,
    md,
    pay,
    reverse,
    submit,
    usd,
)
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()


async def refused(call: Awaitable[Any], code: grpc.StatusCode, *texts: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() is code, err.value.details()
    details = err.value.details() or ""
    for text in texts:
        assert text in details, details
    return details


@pytest.fixture(scope="module")
async def c(stack: Stack) -> AsyncIterator[Clients]:
    async with clients(stack) as stubs:
        yield stubs


@pytest.fixture(scope="module")
async def boss(stack: Stack) -> Login:
    return await stack.admin_login()


@pytest.fixture(scope="module")
async def agent(stack: Stack, boss: Login) -> Login:
    return await stack.ready_staff(boss)


@pytest.fixture(scope="module")
async def borrower(c: Clients, agent: Login, boss: Login) -> str:
    return await make_borrower(c, agent, boss, first_name="Halima", last_name="Otieno")


@pytest.fixture(scope="module")
async def product(c: Clients, boss: Login) -> loan_pb2.LoanProduct:
    # Weekly, flat 24%, many loans per borrower so each test gets its own.
    return await make_product(c, boss, max_active_loans_per_borrower=100)


@pytest.fixture
async def loan(c: Clients, agent: Login, boss: Login, borrower: str, product: Any) -> loan_pb2.Loan:
    """1000.00 USD over 12 weeks, disbursed 30 days ago (4 installments due by now)."""
    return await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=30)
    )


async def get(c: Clients, who: Login, loan_id: str) -> loan_pb2.Loan:
    reply: loan_pb2.GetLoanResponse = await c.loans.GetLoan(
        loan_pb2.GetLoanRequest(id=loan_id), metadata=md(who)
    )
    return reply.loan


async def transactions(c: Clients, who: Login, loan_id: str) -> list[loan_pb2.Transaction]:
    reply = await c.loans.ListTransactions(
        loan_pb2.ListTransactionsRequest(loan_id=loan_id), metadata=md(who)
    )
    return list(reply.transactions)


async def quote(
    c: Clients, who: Login, loan_id: str, on: str = ""
) -> loan_pb2.GetPayoffQuoteResponse:
    reply: loan_pb2.GetPayoffQuoteResponse = await c.loans.GetPayoffQuote(
        loan_pb2.GetPayoffQuoteRequest(loan_id=loan_id, date=on), metadata=md(who)
    )
    return reply


# ------------------------------------------------------------------ concurrency


async def test_twenty_concurrent_repayments_all_apply_to_the_cent(
    c: Clients, agent: Login, boss: Login, borrower: str, product: Any, loan: loan_pb2.Loan
) -> None:
    results = await asyncio.gather(*(pay(c, agent, loan.id, 1_000, TODAY) for _ in range(20)))
    assert all(not r.replayed for r in results)
    assert len({r.transaction.id for r in results}) == 20
    repayments = [t for t in await transactions(c, agent, loan.id) if t.type == loan_pb2.REPAYMENT]
    assert len(repayments) == 20
    assert sorted(t.sequence for t in repayments) == list(range(2, 22))
    after = await get(c, agent, loan.id)
    assert after.summary.total_paid.amount_minor == 20_000
    assert after.version == loan.version + 20
    # The same money paid at once on a twin loan leaves exactly the same balance.
    twin = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=30)
    )
    await pay(c, agent, twin.id, 20_000, TODAY)
    serial = await get(c, agent, twin.id)
    for name in ("outstanding_principal", "outstanding_interest", "total_outstanding"):
        assert getattr(after.summary, name) == getattr(serial.summary, name), name
    assert after.summary.principal_paid == serial.summary.principal_paid


async def test_today_is_the_business_date_in_the_institutions_zone(
    stack: Stack, c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    infra = stack.infra["loan"]
    # 22:30 UTC is already tomorrow in Nairobi (UTC+3): a payment dated tomorrow is not
    # "in the future" there, and the REPAYMENT and its state are recorded on that date.
    late = datetime.combine(TODAY, time(22, 30), tzinfo=UTC)
    tomorrow = TODAY + timedelta(days=1)
    nairobi = LoanService(
        ProductRepository(infra.db),
        LoanRepository(infra.db),
        borrowers=None,  # type: ignore[arg-type]  # repayments never ask for a borrower
        transactions=infra.in_transaction,
        events=infra.outbox,
        clock=lambda: late,
        timezone=ZoneInfo("Africa/Nairobi"),
    )
    caller = Caller(subject=boss.staff_id, role=Role.ADMIN)
    done = await nairobi.apply_repayment(
        caller,
        loan.id,
        payment_id=f"tz-{uuid.uuid4().hex}",
        amount=Money(500, "USD"),
        value_date=tomorrow,
    )
    assert done.transaction.value_date == tomorrow
    utc = LoanService(
        ProductRepository(infra.db),
        LoanRepository(infra.db),
        borrowers=None,  # type: ignore[arg-type]
        transactions=infra.in_transaction,
        events=infra.outbox,
        clock=lambda: late,
    )
    with pytest.raises(InvalidArgument, match="value_date"):
        await utc.apply_repayment(
            caller,
            loan.id,
            payment_id=f"tz-{uuid.uuid4().hex}",
            amount=Money(500, "USD"),
            value_date=tomorrow,
        )


async def test_two_service_replicas_racing_on_one_loan_lose_no_update(
    stack: Stack, c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    infra = stack.infra["loan"]

    def replica() -> LoanService:
        # Each replica has its own per-loan locks, so only compare-and-set keeps them apart.
        db = infra.db
        return LoanService(
            ProductRepository(db),
            LoanRepository(db),
            borrowers=None,  # type: ignore[arg-type]  # repayments never ask for a borrower
            transactions=infra.in_transaction,
            events=infra.outbox,
        )

    one, two = replica(), replica()
    caller = Caller(subject=boss.staff_id, role=Role.ADMIN)
    calls = [
        (one if i % 2 else two).apply_repayment(
            caller,
            loan.id,
            payment_id=f"replica-{uuid.uuid4().hex}",
            amount=Money(500, "USD"),
            value_date=TODAY,
        )
        for i in range(12)
    ]
    outcomes = await asyncio.gather(*calls)
    assert len({o.transaction.id for o in outcomes}) == 12
    after = await get(c, agent, loan.id)
    assert after.summary.total_paid.amount_minor == 6_000
    assert after.version == loan.version + 12
    # One payment id sent to both replicas at once is recorded once.
    same = await asyncio.gather(
        *(
            replica_.apply_repayment(
                caller, loan.id, payment_id="twice", amount=Money(300, "USD"), value_date=TODAY
            )
            for replica_ in (one, two, one, two)
        )
    )
    assert len({o.transaction.id for o in same}) == 1
    assert sum(not o.replayed for o in same) == 1
    final = await get(c, agent, loan.id)
    assert final.summary.total_paid.amount_minor == 6_300


# ------------------------------------------------------------------ idempotency


async def test_the_same_payment_id_applies_once(
    c: Clients, agent: Login, boss: Login, borrower: str, product: Any, loan: loan_pb2.Loan
) -> None:
    first = await pay(c, agent, loan.id, 2_500, TODAY, payment_id="PAY-ONCE-1" + loan.id)
    again = await pay(c, agent, loan.id, 2_500, TODAY, payment_id="PAY-ONCE-1" + loan.id)
    assert not first.replayed
    assert again.replayed
    assert again.transaction.id == first.transaction.id
    assert again.allocation == first.allocation
    # Five at once with one id: still one transaction.
    racing = await asyncio.gather(
        *(pay(c, agent, loan.id, 700, TODAY, payment_id="PAY-RACE" + loan.id) for _ in range(5))
    )
    assert len({r.transaction.id for r in racing}) == 1
    assert sum(not r.replayed for r in racing) == 1
    repayments = [t for t in await transactions(c, agent, loan.id) if t.type == loan_pb2.REPAYMENT]
    assert len(repayments) == 2
    # The same id with another amount, or on another loan, is a reused key.
    await refused(
        pay(c, agent, loan.id, 2_600, TODAY, payment_id="PAY-ONCE-1" + loan.id),
        grpc.StatusCode.ALREADY_EXISTS,
        "already applied",
    )
    other = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=3)
    )
    await refused(
        pay(c, agent, other.id, 2_500, TODAY, payment_id="PAY-ONCE-1" + loan.id),
        grpc.StatusCode.ALREADY_EXISTS,
        "another loan",
    )
    # The agent may see the other loan, so its id comes with the refusal.
    reused = await _error(
        pay(c, agent, other.id, 2_500, TODAY, payment_id="PAY-ONCE-1" + loan.id)
    )
    assert existing_id(reused) == loan.id


async def _error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


def existing_id(err: grpc.aio.AioRpcError) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            info = error_details_pb2.ResourceInfo()
            detail.Unpack(info)
            return str(info.resource_name)
    return ""


# ------------------------------------------------------------------ rules


async def test_repayment_field_and_date_rules(
    c: Clients, agent: Login, loan: loan_pb2.Loan
) -> None:
    disbursed = datetime.fromisoformat(loan.disbursement_date).date()
    await refused(
        pay(c, agent, loan.id, 1_000, disbursed - timedelta(days=1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "value_date",
        "before the disbursement",
    )
    await refused(
        pay(c, agent, loan.id, 1_000, TODAY + timedelta(days=1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "value_date",
        "future",
    )
    await refused(
        c.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id,
                payment_id="p-kes",
                amount=common_pb2.Money(amount_minor=1_000, currency="KES"),
                value_date=TODAY.isoformat(),
                channel=common_pb2.CASH,
                on_behalf_of=agent.staff_id,
            ),
            metadata=c.service,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "amount.currency",
    )
    await refused(
        c.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(loan_id=loan.id, payment_id="p-nodate", amount=usd(5)),
            metadata=c.service,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "value_date",
    )
    await refused(pay(c, agent, loan.id, 0, TODAY), grpc.StatusCode.INVALID_ARGUMENT, "amount")
    # The channel is the shared enum: left unset, or a number the enum does not know (protobuf
    # keeps those), it is refused naming the field; nothing free-text like "BITCOIN" gets in.
    for channel in (common_pb2.CHANNEL_UNSPECIFIED, 99):
        await refused(
            c.loans.ApplyRepayment(
                loan_pb2.ApplyRepaymentRequest(
                    loan_id=loan.id,
                    payment_id=f"p-channel-{channel}",
                    amount=usd(5),
                    value_date=TODAY.isoformat(),
                    channel=channel,  # type: ignore[arg-type]
                    on_behalf_of=agent.staff_id,
                ),
                metadata=c.service,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "channel",
        )
    await refused(pay(c, agent, "nope", 10, TODAY), grpc.StatusCode.NOT_FOUND)


async def test_a_repayment_above_the_payoff_is_refused_naming_the_payoff(
    c: Clients, agent: Login, loan: loan_pb2.Loan
) -> None:
    q = await quote(c, agent, loan.id)
    total = q.total.amount_minor
    assert total == q.principal.amount_minor + q.interest.amount_minor
    shown = f"{Money(total, 'USD')}"
    details = await refused(
        pay(c, agent, loan.id, total + 1, TODAY),
        grpc.StatusCode.FAILED_PRECONDITION,
        "exceeds the payoff amount",
        shown,
    )
    assert TODAY.isoformat() in details


async def test_paying_the_payoff_quote_closes_the_loan_and_a_bounce_reopens_it(
    c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    q = await quote(c, agent, loan.id)
    assert q.interest_waived.amount_minor > 0  # later periods' interest is not charged
    paid = await pay(c, agent, loan.id, q.total.amount_minor, TODAY, payment_id=f"close-{loan.id}")
    assert paid.closed
    assert paid.loan.status == loan_pb2.CLOSED
    assert paid.loan.closed_date == TODAY.isoformat()
    assert paid.allocation.interest_waived == q.interest_waived
    assert paid.loan.summary.total_outstanding.amount_minor == 0
    await refused(pay(c, agent, loan.id, 100, TODAY), grpc.StatusCode.FAILED_PRECONDITION, "CLOSED")
    await refused(quote(c, agent, loan.id), grpc.StatusCode.FAILED_PRECONDITION, "loan is CLOSED")
    # The closing payment bounces: the loan is replayed without it and is ACTIVE again.
    back = await reverse(c, boss, f"close-{loan.id}", "cheque bounced")
    assert back.loan.status == loan_pb2.ACTIVE
    assert not back.loan.closed_date
    assert back.loan.summary.total_outstanding.amount_minor > 0


async def test_a_backdated_repayment_replays_the_ledger(
    c: Clients, agent: Login, loan: loan_pb2.Loan
) -> None:
    today_payment = await pay(c, agent, loan.id, 5_000, TODAY)
    # Before the backdated one arrives, today's money went to the oldest installment.
    assert today_payment.allocation.installments[0].installment_number == 1
    backdated = await pay(c, agent, loan.id, 8_795, TODAY - timedelta(days=23))
    # Paid 23 days ago, it settles installment 1 (due 7 days after disbursement) in full...
    assert [p.installment_number for p in backdated.allocation.installments] == [1]
    assert backdated.loan.summary.total_paid.amount_minor == 13_795
    ledger = await transactions(c, agent, loan.id)
    assert [t.value_date for t in ledger] == sorted(t.value_date for t in ledger)
    # ...so today's payment now starts at installment 2.
    moved = next(t for t in ledger if t.id == today_payment.transaction.id)
    assert moved.allocation.installments[0].installment_number == 2
    assert moved.allocation.total.amount_minor == 5_000


async def test_reversal_replays_without_the_payment_and_is_idempotent(
    c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    before = await get(c, agent, loan.id)
    paid = await pay(c, agent, loan.id, 6_000, TODAY, payment_id=f"bounce-{loan.id}")
    reversed_ = await reverse(c, boss, f"bounce-{loan.id}", "reversed by the bank", loan.id)
    assert not reversed_.replayed
    assert reversed_.reversal.type == loan_pb2.REVERSAL
    assert reversed_.reversal.reversed_transaction_id == paid.transaction.id
    assert reversed_.reversal.allocation.total.amount_minor == -6_000
    assert reversed_.loan.summary.total_outstanding == before.summary.total_outstanding
    assert reversed_.loan.summary.total_paid == before.summary.total_paid
    again = await reverse(c, boss, f"bounce-{loan.id}", "reversed by the bank", loan.id)
    assert again.replayed
    assert again.reversal.id == reversed_.reversal.id
    ledger = await transactions(c, agent, loan.id)
    original = next(t for t in ledger if t.id == paid.transaction.id)
    assert original.reversed
    assert original.allocation.total.amount_minor == 6_000
    assert sum(t.type == loan_pb2.REVERSAL for t in ledger) == 1
    # A reversed payment id cannot be applied again, and unknown ids are NOT_FOUND.
    await refused(
        pay(c, agent, loan.id, 6_000, TODAY, payment_id=f"bounce-{loan.id}"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "reversed",
    )
    await refused(
        reverse(c, boss, "never-seen", "x"),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_write_off_then_recovery(
    c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    early = await pay(c, agent, loan.id, 10_000, TODAY - timedelta(days=10))
    before = await quote(c, agent, loan.id)
    schedule = await c.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan.id), metadata=md(agent)
    )
    done = await c.loans.WriteOffLoan(
        loan_pb2.WriteOffLoanRequest(id=loan.id, reason="borrower absconded"), metadata=md(boss)
    )
    assert done.loan.status == loan_pb2.WRITTEN_OFF
    assert done.loan.write_off_reason == "borrower absconded"
    assert done.loan.written_off_date == TODAY.isoformat()
    # Outstanding principal plus the interest due by today (installments 1-4); the
    # current period's interest (installment 5, in the payoff quote) is not written off.
    current_period_interest = schedule.rows[4].interest_due.amount_minor
    assert (
        done.written_off_amount.amount_minor == before.total.amount_minor - current_period_interest
    )
    assert done.loan.summary.written_off_amount == done.written_off_amount
    await refused(quote(c, agent, loan.id), grpc.StatusCode.FAILED_PRECONDITION, "WRITTEN_OFF")
    # The write-off was booked net of the earlier repayment: it can no longer be undone.
    await refused(
        reverse(c, boss, early.transaction.payment_id, "bounced"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "written off",
    )
    recovered = await pay(c, agent, loan.id, 3_000, TODAY)
    assert recovered.recovery
    assert recovered.transaction.type == loan_pb2.RECOVERY
    assert recovered.allocation.recovery.amount_minor == 3_000
    assert recovered.loan.status == loan_pb2.WRITTEN_OFF
    assert recovered.loan.summary.recovered_amount.amount_minor == 3_000
    left = done.written_off_amount.amount_minor - 3_000
    await refused(
        pay(c, agent, loan.id, left + 1, TODAY),
        grpc.StatusCode.FAILED_PRECONDITION,
        f"{Money(left, 'USD')}",
    )


async def test_waiving_interest_of_an_installment(
    c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan
) -> None:
    schedule = await c.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan.id), metadata=md(agent)
    )
    interest = schedule.rows[0].interest_due.amount_minor
    request = loan_pb2.WaiveChargesRequest(
        loan_id=loan.id,
        installment_number=1,
        interest_amount=usd(interest + 1),
        reason="hardship",
    )
    await refused(
        c.loans.WaiveCharges(request, metadata=md(boss)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "interest_amount",
    )
    request.interest_amount.amount_minor = interest
    await refused(
        c.loans.WaiveCharges(request, metadata=md(agent)), grpc.StatusCode.PERMISSION_DENIED
    )
    done = await c.loans.WaiveCharges(request, metadata=md(boss))
    assert done.transaction.type == loan_pb2.WAIVER
    assert done.transaction.allocation.interest.amount_minor == interest
    after = await c.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert after.rows[0].interest_waived.amount_minor == interest
    assert done.loan.summary.total_waived.amount_minor == interest


async def test_collection_sheet_and_dpd_filters(
    c: Clients, agent: Login, boss: Login, borrower: str, product: Any
) -> None:
    late = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=16)
    )
    current = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=7)
    )
    sheet = await c.loans.GetLoansDue(loan_pb2.GetLoansDueRequest(), metadata=md(agent))
    rows = {row.loan_id: row for row in sheet.loans}
    assert rows[late.id].days_past_due == 9
    assert list(rows[late.id].installment_numbers) == [1, 2]
    assert rows[late.id].amount_due.amount_minor == 0  # nothing falls due exactly today
    assert rows[late.id].arrears_amount.amount_minor == 2 * 8_795
    assert rows[current.id].days_past_due == 0  # due today is not yet late
    assert rows[current.id].amount_due.amount_minor == 8_795
    assert rows[current.id].total_due.amount_minor == 8_795
    await refused(
        c.loans.GetLoansDue(loan_pb2.GetLoansDueRequest(), metadata=md(boss)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "agent_id",
    )
    for_admin = await c.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(agent_id=agent.staff_id), metadata=md(boss)
    )
    assert late.id in {row.loan_id for row in for_admin.loans}

    def ids(reply: loan_pb2.ListLoansResponse) -> set[str]:
        return {x.id for x in reply.loans}

    overdue = await c.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=borrower, dpd_min=1), metadata=md(agent)
    )
    assert late.id in ids(overdue)
    assert current.id not in ids(overdue)
    on_time = await c.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=borrower, dpd_max=0), metadata=md(agent)
    )
    assert current.id in ids(on_time)
    assert late.id not in ids(on_time)
    worst_first = await c.loans.ListLoans(
        loan_pb2.ListLoansRequest(
            borrower_id=borrower,
            status=loan_pb2.ACTIVE,
            page=common_pb2.PageRequest(order_by="days_past_due desc", page_size=500),
        ),
        metadata=md(agent),
    )
    dpds = [x.summary.days_past_due for x in worst_first.loans]
    assert dpds == sorted(dpds, reverse=True)
    await refused(
        c.loans.ListLoans(loan_pb2.ListLoansRequest(dpd_min=5, dpd_max=1), metadata=md(agent)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "dpd_max",
    )


async def test_every_change_commits_its_outbox_event(
    stack: Stack, c: Clients, agent: Login, boss: Login, loan: loan_pb2.Loan, product: Any
) -> None:
    q = await quote(c, agent, loan.id)
    paid = await pay(c, agent, loan.id, q.total.amount_minor, TODAY, payment_id=f"ev-{loan.id}")
    events = await loan_events(stack, loan.id, 5)
    assert [e["type"] for e in events] == [
        "loan.submitted",
        "loan.approved",
        "loan.disbursed",
        "loan.repayment_applied",
        "loan.closed",
    ]
    # Each event carries the loan as it was written, with its version.
    assert [e["payload"]["version"] for e in events[:3]] == [1, 2, 3]
    assert [e["payload"]["status"] for e in events] == [
        "SUBMITTED",
        "APPROVED",
        "ACTIVE",
        "CLOSED",
        "CLOSED",
    ]
    disbursed = events[2]["payload"]
    assert disbursed["principal"] == 100_000
    assert disbursed["net_disbursed"] == 100_000
    assert disbursed["currency"] == "USD"
    applied = events[3]["payload"]
    assert applied["payment_id"] == f"ev-{loan.id}"
    assert applied["transaction_id"] == paid.transaction.id
    assert applied["amount"] == q.total.amount_minor
    assert applied["allocation"]["interest_waived"] == q.interest_waived.amount_minor
    assert events[4]["payload"]["closed_date"] == TODAY.isoformat()
    # Once marked sent, they leave the loan document (its embedded outbox).
    loans = stack.infra["loan"].db["loans"]

    async def emptied() -> bool:
        stored = await loans.find_one({"_id": loan.id}, {"outbox": 1, "outbox_next": 1})
        return stored is not None and not stored.get("outbox") and "outbox_next" not in stored

    await eventually(emptied, what="sent events pulled from the loan")
    # The products' events are in the outbox collection.
    created = await stack.infra["loan"].db["outbox"].find_one({"aggregate_id": product.id})
    assert created is not None
    assert created["type"] == "loan.product_created"


async def test_the_other_changes_commit_their_outbox_events(
    stack: Stack,
    c: Clients,
    agent: Login,
    boss: Login,
    borrower: str,
    product: Any,
    loan: loan_pb2.Loan,
) -> None:
    async def types(loan_id: str, count: int) -> list[str]:
        return [e["type"] for e in await loan_events(stack, loan_id, count)]

    paid = await pay(c, agent, loan.id, 10_000, TODAY, payment_id=f"evr-{loan.id}")
    await reverse(c, boss, f"evr-{loan.id}", "bounced")
    await c.loans.WaiveCharges(
        loan_pb2.WaiveChargesRequest(
            loan_id=loan.id, installment_number=1, interest_amount=usd(100), reason="hardship"
        ),
        metadata=md(boss),
    )
    await c.loans.WriteOffLoan(
        loan_pb2.WriteOffLoanRequest(id=loan.id, reason="moved away"), metadata=md(boss)
    )
    assert await types(loan.id, 7) == [
        "loan.submitted",
        "loan.approved",
        "loan.disbursed",
        "loan.repayment_applied",
        "loan.repayment_reversed",
        "loan.waived",
        "loan.written_off",
    ]
    events = await loan_events(stack, loan.id, 7)
    assert events[4]["payload"]["payment_id"] == f"evr-{loan.id}"
    assert events[4]["payload"]["reason"] == "bounced"
    assert events[3]["payload"]["transaction_id"] == paid.transaction.id
    assert [e["payload"]["version"] for e in events[3:]] == [
        loan.version + 1,
        loan.version + 2,
        loan.version + 3,
        loan.version + 4,
    ]
    assert events[-1]["payload"]["status"] == "WRITTEN_OFF"

    rejected = await submit(c, agent, borrower, product.id)
    await c.loans.RejectLoan(
        loan_pb2.RejectLoanRequest(id=rejected.id, reason="too risky"), metadata=md(boss)
    )
    assert await types(rejected.id, 2) == ["loan.submitted", "loan.rejected"]
    withdrawn = await submit(c, agent, borrower, product.id)
    await c.loans.WithdrawLoan(
        loan_pb2.WithdrawLoanRequest(id=withdrawn.id, reason="not now"), metadata=md(agent)
    )
    assert await types(withdrawn.id, 2) == ["loan.submitted", "loan.withdrawn"]
