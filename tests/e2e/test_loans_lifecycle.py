"""Loan products and the loan lifecycle, called directly over gRPC with real tokens.

Every allowed and refused transition, maker-checker, agent scoping in the
service itself (not only at the gateway), the product snapshot, the
active-loan limit, KYC and borrower status checks, and loan numbers that stay
unique under concurrency.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from loan_service.adapters.loan_repository import LoanRepository
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.user.v1 import user_pb2
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import (
    Clients,
    active_loan,
    clients,
    make_borrower,
    make_product,
    md,
    pay,
    product_message,
    submit,
    usd,
)

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
NAMES = ("Baraka", "Chausiku", "Dalila", "Eshe", "Faraji", "Goli")


async def refused(call: Awaitable[Any], code: grpc.StatusCode, *texts: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() is code, err.value.details()
    for text in texts:
        assert text in (err.value.details() or ""), err.value.details()
    return err.value


def violations(err: grpc.aio.AioRpcError) -> list[str]:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(cast(grpc.Call, err))
    fields: list[str] = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


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
async def other_agent(stack: Stack, boss: Login) -> Login:
    return await stack.ready_staff(boss)


@pytest.fixture(scope="module")
async def borrower(c: Clients, agent: Login, boss: Login) -> str:
    return await make_borrower(c, agent, boss)


@pytest.fixture(scope="module")
async def roomy(c: Clients, boss: Login) -> loan_pb2.LoanProduct:
    """A product a borrower may hold many loans of, for state-machine tests."""
    return await make_product(c, boss, max_active_loans_per_borrower=100)


# ------------------------------------------------------------------ products


async def test_products_create_validate_update_deactivate(
    c: Clients, boss: Login, agent: Login, borrower: str
) -> None:
    code = f"grp-{datetime.now(UTC).strftime('%H%M%S%f')}"
    product = await make_product(c, boss, code=code, description="weekly group loans")
    assert product.code == code.upper()
    assert product.active
    assert product.version == 1
    assert product.currency_minor_digits == 2
    assert product.annual_rate == "24"

    err = await refused(
        make_product(c, boss, code=code.upper()), grpc.StatusCode.ALREADY_EXISTS, code.upper()
    )
    assert violations(err) == ["code"]

    err = await refused(
        make_product(
            c,
            boss,
            principal_max=usd(5_000),
            annual_rate="24.x",
            fee=loan_pb2.FeeTerms(
                type=loan_pb2.FIXED, fixed_amount=common_pb2.Money(amount_minor=100, currency="KES")
            ),
            frequency=loan_pb2.REPAYMENT_FREQUENCY_UNSPECIFIED,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert {"principal_max", "annual_rate", "fee.fixed_amount.currency", "frequency"} <= set(
        violations(err)
    )
    await refused(
        c.products.CreateProduct(
            loan_pb2.CreateProductRequest(product=product_message()), metadata=md(agent)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    by_code = await c.products.GetProduct(loan_pb2.GetProductRequest(code=code), metadata=md(agent))
    assert by_code.product.id == product.id

    updated = await c.products.UpdateProduct(
        loan_pb2.UpdateProductRequest(
            id=product.id,
            product=loan_pb2.LoanProduct(name="Group weekly v2", annual_rate="26.5"),
            update_mask=FieldMask(paths=["name", "annual_rate"]),
            expected_version=1,
        ),
        metadata=md(boss),
    )
    assert updated.product.name == "Group weekly v2"
    assert updated.product.annual_rate == "26.5"
    assert updated.product.version == 2
    await refused(
        c.products.UpdateProduct(
            loan_pb2.UpdateProductRequest(
                id=product.id,
                product=loan_pb2.LoanProduct(name="stale"),
                update_mask=FieldMask(paths=["name"]),
                expected_version=1,
            ),
            metadata=md(boss),
        ),
        grpc.StatusCode.ABORTED,
    )
    await refused(
        c.products.UpdateProduct(
            loan_pb2.UpdateProductRequest(id=product.id, update_mask=FieldMask(paths=["active"])),
            metadata=md(boss),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "active",
    )

    gone = await c.products.DeactivateProduct(
        loan_pb2.DeactivateProductRequest(id=product.id, reason="replaced"), metadata=md(boss)
    )
    assert not gone.product.active
    await refused(
        c.products.DeactivateProduct(
            loan_pb2.DeactivateProductRequest(id=product.id), metadata=md(boss)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "already inactive",
    )
    await refused(
        submit(c, agent, borrower, product.id), grpc.StatusCode.FAILED_PRECONDITION, "inactive"
    )
    listed = await c.products.ListProducts(
        loan_pb2.ListProductsRequest(active=False), metadata=md(agent)
    )
    assert product.id in {p.id for p in listed.products}
    assert all(not p.active for p in listed.products)
    back = await c.products.ActivateProduct(
        loan_pb2.ActivateProductRequest(id=product.id), metadata=md(boss)
    )
    assert back.product.active
    assert back.product.version == 4


async def test_preview_computes_without_creating(c: Clients, agent: Login, roomy: Any) -> None:
    reply = await c.products.PreviewSchedule(
        loan_pb2.PreviewScheduleRequest(
            product_id=roomy.id,
            principal=usd(100_000),
            installments=12,
            disbursement_date="2026-01-05",
        ),
        metadata=md(agent),
    )
    # Flat 24% a year over 12 weeks: 100000 * 0.24 * 12/52 = 5538.46 -> 5538 cents.
    assert reply.totals.interest.amount_minor == 5_538
    assert reply.totals.total_repayable.amount_minor == 105_538
    assert [r.due_date for r in reply.rows[:2]] == ["2026-01-12", "2026-01-19"]
    assert sum(r.principal_due.amount_minor for r in reply.rows) == 100_000
    assert sum(r.interest_due.amount_minor for r in reply.rows) == 5_538
    err = await refused(
        c.products.PreviewSchedule(
            loan_pb2.PreviewScheduleRequest(
                product_id=roomy.id, principal=usd(1), installments=100
            ),
            metadata=md(agent),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(violations(err)) == {"principal", "installments"}


async def test_a_loan_keeps_the_terms_it_was_submitted_on(
    c: Clients, boss: Login, agent: Login, borrower: str
) -> None:
    product = await make_product(c, boss, max_active_loans_per_borrower=5)
    loan = await submit(c, agent, borrower, product.id, 100_000, 12)
    await c.products.UpdateProduct(
        loan_pb2.UpdateProductRequest(
            id=product.id,
            product=loan_pb2.LoanProduct(annual_rate="48", installments_max=8),
            update_mask=FieldMask(paths=["annual_rate", "installments_max"]),
        ),
        metadata=md(boss),
    )
    await c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(boss))
    done = await c.loans.DisburseLoan(loan_pb2.DisburseLoanRequest(id=loan.id), metadata=md(boss))
    assert done.loan.product.annual_rate == "24"
    assert done.loan.product.installments_max == 52
    assert done.totals.interest.amount_minor == 5_538  # 24%, not 48%
    # A new loan on the edited product gets the new terms.
    fresh = await submit(c, agent, borrower, product.id, 100_000, 8)
    assert fresh.product.annual_rate == "48"


# ------------------------------------------------------------------ the state machine

ACTIONS = ("approve", "reject", "withdraw", "disburse", "write_off")


def action_call(c: Clients, boss: Login, agent: Login, name: str, loan_id: str) -> Awaitable[Any]:
    lp = loan_pb2
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "approve": lambda: c.loans.ApproveLoan(
            lp.ApproveLoanRequest(id=loan_id), metadata=md(boss)
        ),
        "reject": lambda: c.loans.RejectLoan(
            lp.RejectLoanRequest(id=loan_id, reason="too risky"), metadata=md(boss)
        ),
        "withdraw": lambda: c.loans.WithdrawLoan(
            lp.WithdrawLoanRequest(id=loan_id, reason="changed mind"), metadata=md(agent)
        ),
        "disburse": lambda: c.loans.DisburseLoan(
            lp.DisburseLoanRequest(id=loan_id), metadata=md(boss)
        ),
        "write_off": lambda: c.loans.WriteOffLoan(
            lp.WriteOffLoanRequest(id=loan_id, reason="absconded"), metadata=md(boss)
        ),
    }
    return calls[name]()


async def loan_in(
    c: Clients, boss: Login, agent: Login, borrower: str, product: str, status: str
) -> str:
    """A fresh loan brought to ``status`` through the public RPCs."""
    loan = await submit(c, agent, borrower, product, 50_000, 4)
    path = {
        "SUBMITTED": [],
        "APPROVED": ["approve"],
        "REJECTED": ["reject"],
        "WITHDRAWN": ["withdraw"],
        "ACTIVE": ["approve", "disburse"],
        "WRITTEN_OFF": ["approve", "disburse", "write_off"],
        "CLOSED": ["approve", "disburse"],
    }[status]
    for step in path:
        await action_call(c, boss, agent, step, loan.id)
    if status == "CLOSED":
        quote = await c.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id), metadata=md(agent)
        )
        await pay(c, agent, loan.id, quote.total.amount_minor, TODAY)
    got = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(boss))
    assert loan_pb2.LoanStatus.Name(got.loan.status) == status
    return loan.id


ALLOWED = {
    ("SUBMITTED", "approve"): "APPROVED",
    ("SUBMITTED", "reject"): "REJECTED",
    ("SUBMITTED", "withdraw"): "WITHDRAWN",
    ("APPROVED", "reject"): "REJECTED",
    ("APPROVED", "disburse"): "ACTIVE",
    ("ACTIVE", "write_off"): "WRITTEN_OFF",
}
STATES = ("SUBMITTED", "APPROVED", "REJECTED", "WITHDRAWN", "ACTIVE", "CLOSED", "WRITTEN_OFF")


async def test_every_transition_allowed_or_refused_naming_the_state(
    c: Clients, boss: Login, agent: Login, borrower: str, roomy: Any
) -> None:
    for status in STATES:
        loan_id = await loan_in(c, boss, agent, borrower, roomy.id, status)
        for action in ACTIONS:
            if (status, action) in ALLOWED:
                continue
            await refused(
                action_call(c, boss, agent, action, loan_id),
                grpc.StatusCode.FAILED_PRECONDITION,
                f"loan is {status}",
            )
        if status not in ("ACTIVE", "WRITTEN_OFF"):  # written off: a recovery
            await refused(
                pay(c, agent, loan_id, 1_000, TODAY),
                grpc.StatusCode.FAILED_PRECONDITION,
                f"loan is {status}",
            )
        if status != "ACTIVE":
            # Ledger moves that need an ACTIVE loan name the state too.
            await refused(
                c.loans.WaiveCharges(
                    loan_pb2.WaiveChargesRequest(
                        loan_id=loan_id,
                        installment_number=1,
                        interest_amount=common_pb2.Money(amount_minor=1, currency="USD"),
                        reason="goodwill",
                    ),
                    metadata=md(boss),
                ),
                grpc.StatusCode.FAILED_PRECONDITION,
                f"loan is {status}",
            )
            await refused(
                c.loans.GetPayoffQuote(
                    loan_pb2.GetPayoffQuoteRequest(loan_id=loan_id), metadata=md(agent)
                ),
                grpc.StatusCode.FAILED_PRECONDITION,
                f"loan is {status}",
            )
    for (status, action), after in ALLOWED.items():
        loan_id = await loan_in(c, boss, agent, borrower, roomy.id, status)
        reply = await action_call(c, boss, agent, action, loan_id)
        assert loan_pb2.LoanStatus.Name(reply.loan.status) == after, (status, action)
    # Paying off closes (ACTIVE -> CLOSED) and is covered by loan_in("CLOSED") above.


async def test_decisions_record_who_when_and_why(
    c: Clients, boss: Login, agent: Login, borrower: str, roomy: Any
) -> None:
    loan = await submit(c, agent, borrower, roomy.id)
    assert re.fullmatch(rf"LN-{TODAY.year}-\d{{6}}", loan.loan_number)
    assert loan.submitted_by == agent.staff_id
    assert loan.agent_id == agent.staff_id
    assert loan.borrower_name == "Amina Wanjiru"
    assert loan.status == loan_pb2.SUBMITTED
    assert not loan.HasField("summary")
    await refused(
        c.loans.RejectLoan(loan_pb2.RejectLoanRequest(id=loan.id), metadata=md(boss)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "reason",
    )
    approved = await c.loans.ApproveLoan(
        loan_pb2.ApproveLoanRequest(id=loan.id, note="ok", expected_version=loan.version),
        metadata=md(boss),
    )
    assert approved.loan.approved_by == boss.staff_id
    assert approved.loan.HasField("approved_at")
    # A stale expected_version is a concurrency conflict, safe to retry after a reload.
    await refused(
        c.loans.RejectLoan(
            loan_pb2.RejectLoanRequest(id=loan.id, reason="x", expected_version=loan.version),
            metadata=md(boss),
        ),
        grpc.StatusCode.ABORTED,
    )
    rejected = await c.loans.RejectLoan(
        loan_pb2.RejectLoanRequest(id=loan.id, reason="  income   not verified "),
        metadata=md(boss),
    )
    assert rejected.loan.rejection_reason == "income not verified"
    assert rejected.loan.rejected_by == boss.staff_id


async def test_maker_checker_refuses_the_submitter_with_a_clear_message(
    stack: Stack, c: Clients, boss: Login, agent: Login, borrower: str, roomy: Any
) -> None:
    loan = await submit(c, boss, borrower, roomy.id)  # an admin may submit too
    assert loan.agent_id == agent.staff_id  # the loan belongs to the borrower's agent
    err = await refused(
        c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(boss)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "maker-checker",
        "someone other than the staff member who submitted it",
    )
    assert err is not None
    checker = await stack.ready_staff(boss, role="ADMIN")
    approved = await c.loans.ApproveLoan(
        loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(checker)
    )
    assert approved.loan.status == loan_pb2.APPROVED
    assert approved.loan.approved_by == checker.staff_id
    # Agents may not approve at all.
    await refused(
        c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(agent)),
        grpc.StatusCode.PERMISSION_DENIED,
    )


# ------------------------------------------------------------------ scoping


async def test_agents_reach_only_their_borrowers_loans_over_grpc(
    c: Clients, boss: Login, agent: Login, other_agent: Login, borrower: str, roomy: Any
) -> None:
    loan = await active_loan(
        c, agent, boss, borrower, roomy.id, disbursed_on=TODAY - timedelta(days=20)
    )
    own = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(agent))
    assert own.loan.id == loan.id
    stranger = md(other_agent)
    lp = loan_pb2
    for call in (
        c.loans.GetLoan(lp.GetLoanRequest(id=loan.id), metadata=stranger),
        c.loans.GetSchedule(lp.GetScheduleRequest(loan_id=loan.id), metadata=stranger),
        c.loans.ListTransactions(lp.ListTransactionsRequest(loan_id=loan.id), metadata=stranger),
        c.loans.GetPayoffQuote(lp.GetPayoffQuoteRequest(loan_id=loan.id), metadata=stranger),
        c.loans.WithdrawLoan(lp.WithdrawLoanRequest(id=loan.id, reason="x"), metadata=stranger),
    ):
        await refused(call, grpc.StatusCode.NOT_FOUND, "not found")
    # Lists: the other agent sees none of it, even when asking by agent or borrower.
    theirs = await c.loans.ListLoans(
        lp.ListLoansRequest(agent_id=agent.staff_id, borrower_id=borrower), metadata=stranger
    )
    assert list(theirs.loans) == []
    assert theirs.page.total_size == 0
    mine = await c.loans.ListLoans(lp.ListLoansRequest(borrower_id=borrower), metadata=md(agent))
    assert loan.id in {x.id for x in mine.loans}
    assert {x.agent_id for x in mine.loans} == {agent.staff_id}
    due = await c.loans.GetLoansDue(
        lp.GetLoansDueRequest(agent_id=agent.staff_id), metadata=stranger
    )
    assert loan.id not in {x.loan_id for x in due.loans}
    # Submitting for another agent's borrower looks like an unknown borrower.
    await refused(submit(c, other_agent, borrower, roomy.id), grpc.StatusCode.NOT_FOUND, "borrower")
    # Admins see everything.
    seen = await c.loans.GetLoan(lp.GetLoanRequest(id=loan.id), metadata=md(boss))
    assert seen.loan.summary.days_past_due == 13  # weekly: first due 7 days after


# ------------------------------------------------------------------ submission rules


async def test_submission_checks_ranges_borrower_and_limit(
    c: Clients, boss: Login, agent: Login
) -> None:
    borrower = await make_borrower(c, agent, boss, first_name="Zawadi", verified=False)
    product = await make_product(c, boss)  # one active loan per borrower
    err = await refused(
        c.loans.SubmitLoan(
            loan_pb2.SubmitLoanRequest(
                borrower_id=borrower,
                product_id=product.id,
                principal=common_pb2.Money(amount_minor=100_000, currency="KES"),
                installments=3,
            ),
            metadata=md(agent),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(violations(err)) == {"principal.currency", "installments"}
    err = await refused(
        submit(c, agent, borrower, product.id, principal=600_000), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violations(err) == ["principal"]
    assert "5000.00 USD" in (err.details() or "")
    await refused(submit(c, agent, borrower, "no-such-product"), grpc.StatusCode.NOT_FOUND)
    await refused(submit(c, agent, "no-such-borrower", product.id), grpc.StatusCode.NOT_FOUND)

    first = await submit(c, agent, borrower, product.id)
    await refused(
        submit(c, agent, borrower, product.id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "1 active loan",
    )
    # KYC is still PENDING: approval is fine, disbursement is not.
    await c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=first.id), metadata=md(boss))
    await refused(
        c.loans.DisburseLoan(loan_pb2.DisburseLoanRequest(id=first.id), metadata=md(boss)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KYC is PENDING",
    )
    await c.loans.RejectLoan(
        loan_pb2.RejectLoanRequest(id=first.id, reason="kyc"), metadata=md(boss)
    )
    # A rejected loan no longer counts against the limit.
    second = await submit(c, agent, borrower, product.id)
    await c.loans.WithdrawLoan(
        loan_pb2.WithdrawLoanRequest(id=second.id, reason="later"), metadata=md(agent)
    )
    await c.borrowers.DeactivateBorrower(
        user_pb2.DeactivateBorrowerRequest(id=borrower, reason="moved away"), metadata=md(agent)
    )
    await refused(
        submit(c, agent, borrower, product.id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "borrower is INACTIVE",
    )


async def test_concurrent_submissions_respect_the_active_loan_limit(
    c: Clients, boss: Login, agent: Login
) -> None:
    borrower = await make_borrower(c, agent, boss, first_name="Neema")
    product = await make_product(c, boss)  # limit 1
    results = await asyncio.gather(
        *(submit(c, agent, borrower, product.id) for _ in range(4)), return_exceptions=True
    )
    made = [r for r in results if isinstance(r, loan_pb2.Loan)]
    assert len(made) == 1, results
    for r in results:
        if not isinstance(r, loan_pb2.Loan):
            assert isinstance(r, grpc.aio.AioRpcError)
            assert r.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED)


async def test_loan_numbers_are_unique_under_concurrency(
    stack: Stack, c: Clients, boss: Login, agent: Login
) -> None:
    repo = LoanRepository(stack.infra["loan"].db)
    numbers = await asyncio.gather(*(repo.next_sequence("LN-TEST") for _ in range(40)))
    assert len(set(numbers)) == 40
    product = await make_product(c, boss, max_active_loans_per_borrower=20)
    borrowers = await asyncio.gather(
        *(make_borrower(c, agent, boss, first_name=name) for name in NAMES)
    )
    loans = await asyncio.gather(*(submit(c, agent, b, product.id) for b in borrowers))
    assert len({loan.loan_number for loan in loans}) == 6


# ------------------------------------------------------------------ disbursement


async def test_disbursement_freezes_the_schedule_and_reports_the_net_amount(
    c: Clients, boss: Login, agent: Login
) -> None:
    borrower = await make_borrower(c, agent, boss, first_name="Imani")
    product = await make_product(
        c,
        boss,
        fee=loan_pb2.FeeTerms(type=loan_pb2.PERCENT, percent="2.5"),
        frequency=loan_pb2.MONTHLY,
        interest_method=loan_pb2.DECLINING_BALANCE,
    )
    loan = await submit(c, agent, borrower, product.id, 120_000, 6)
    preview = await c.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert len(preview.rows) == 6  # a preview before disbursement
    await c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(boss))
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    err = await refused(
        c.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(id=loan.id, disbursement_date=tomorrow),
            metadata=md(boss),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "future",
    )
    assert violations(err) == ["disbursement_date"]
    on = TODAY - timedelta(days=3)
    first = on + timedelta(days=40)
    done = await c.loans.DisburseLoan(
        loan_pb2.DisburseLoanRequest(
            id=loan.id, disbursement_date=on.isoformat(), first_repayment_date=first.isoformat()
        ),
        metadata=md(boss),
    )
    assert done.upfront_fee.amount_minor == 3_000  # 2.5% of 1200.00
    assert done.net_disbursed.amount_minor == 117_000
    assert done.loan.status == loan_pb2.ACTIVE
    assert done.loan.disbursement_date == on.isoformat()
    assert done.schedule[0].due_date == first.isoformat()
    assert done.loan.first_repayment_date == first.isoformat()
    assert float(done.totals.effective_apr) > 24.0  # the fee raises the APR
    frozen = await c.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert [r.due_date for r in frozen.rows] == [r.due_date for r in done.schedule]
    assert [r.total_due for r in frozen.rows] == [r.total_due for r in done.schedule]
    txns = await c.loans.ListTransactions(
        loan_pb2.ListTransactionsRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert [t.type for t in txns.transactions] == [loan_pb2.DISBURSEMENT]
    assert txns.transactions[0].amount.amount_minor == 120_000
