"""The loan record around the ledger: stored facts, status after a replay, filters, mapping."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from loan_service.adapters.loan_repository import LoanFilter, loan_from_doc, loan_sort, loan_to_doc
from loan_service.convert import product_draft, product_proto
from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanAction, LoanStatus
from loan_service.domain.loan import (
    NO_ARREARS,
    Loan,
    LoanProduct,
    facts_of,
    normalize_code,
    status_after_replay,
)
from loan_service.domain.products import (
    Amortization,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.service import KeyedLocks
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.errors import InvalidArgument

START = date(2026, 3, 2)
TERMS = ProductTerms(
    currency="USD",
    principal_min=10_000,
    principal_max=500_000,
    installments_min=1,
    installments_max=52,
    frequency=RepaymentFrequency.WEEKLY,
    interest_method=InterestMethod.FLAT,
    amortization=Amortization.EQUAL_INSTALLMENTS,
    annual_rate=Decimal(24),
)


def disbursed_loan() -> Loan:
    done = ledger.disburse(
        TERMS, 100_000, 4, disbursement_date=START, business_date=START, actor="admin"
    )
    product = LoanProduct(id="p1", code="P1", name="Weekly", description="", terms=TERMS)
    return Loan(
        id="l1",
        loan_number="LN-2026-000001",
        borrower_id="b1",
        borrower_name="Amina Wanjiru",
        agent_id="a1",
        branch_id="BR-01",
        product_id="p1",
        product=product,
        status=LoanStatus.ACTIVE,
        principal=100_000,
        installments=4,
        purpose="",
        note="",
        submitted_date=START,
        submitted_by="a1",
        submitted_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
        disbursement_date=START,
        schedule=done.schedule,
        transactions=(done.transaction,),
    )


def test_facts_find_the_oldest_unsettled_installment() -> None:
    loan = disbursed_loan()
    assert loan.schedule is not None
    on = date(2026, 3, 20)  # installments 1 and 2 (Mar 9, Mar 16) are late
    state = ledger.replay(TERMS, loan.schedule, loan.transactions, on)
    facts = facts_of(state)
    assert facts.arrears_since == date(2026, 3, 9).toordinal()
    assert facts.days_past_due == 11
    # DPD on any later date follows from the stored figure alone.
    assert facts.days_past_due_on(date(2026, 4, 1)) == 23
    assert facts.days_past_due_on(date(2026, 3, 9)) == 0
    quote = ledger.quote_payoff(TERMS, loan.schedule, loan.transactions, on)
    paid = ledger.apply_repayment(
        TERMS,
        loan.schedule,
        loan.transactions,
        payment_id="p",
        amount=quote.total,
        value_date=on,
        business_date=on,
    )
    assert paid.state.closed
    assert facts_of(paid.state).arrears_since == NO_ARREARS
    assert facts_of(paid.state).days_past_due_on(date(2027, 1, 1)) == 0


def test_status_follows_the_replayed_state() -> None:
    loan = disbursed_loan()
    assert loan.schedule is not None
    state = ledger.replay(TERMS, loan.schedule, loan.transactions, START)
    assert status_after_replay(LoanStatus.ACTIVE, state) == (LoanStatus.ACTIVE, None)
    closed = replace(state, closed=True)
    assert status_after_replay(LoanStatus.ACTIVE, closed) == (LoanStatus.CLOSED, LoanAction.CLOSE)
    assert status_after_replay(LoanStatus.CLOSED, state) == (LoanStatus.ACTIVE, LoanAction.REOPEN)
    assert status_after_replay(LoanStatus.WRITTEN_OFF, closed) == (LoanStatus.WRITTEN_OFF, None)


def test_dpd_filters_become_ranges_of_the_oldest_due_date() -> None:
    today = date(2026, 6, 30)
    t = today.toordinal()
    assert LoanFilter(today, dpd_min=1).query() == {
        "status": "ACTIVE",
        "arrears_since": {"$lte": t - 1},
    }
    assert LoanFilter(today, dpd_min=30, dpd_max=60, agent_id="a").query() == {
        "agent_id": "a",
        "status": "ACTIVE",
        "arrears_since": {"$lte": t - 30, "$gte": t - 60},
    }
    # Current loans (nothing late) have NO_ARREARS, far above any real date.
    assert LoanFilter(today, dpd_max=0).query()["arrears_since"] == {"$gte": t}
    assert LoanFilter(today, status=LoanStatus.CLOSED, dpd_min=1).query() == {"_id": {"$in": []}}
    assert LoanFilter(
        today, disbursed_from=date(2026, 1, 1), disbursed_to=date(2026, 1, 31)
    ).query() == {"disbursement_date": {"$gte": "2026-01-01", "$lte": "2026-01-31"}}
    # Most days past due first = oldest unsettled due date first.
    assert loan_sort([("arrears_since", -1), ("_id", 1)]) == [("arrears_since", 1), ("_id", 1)]


def test_a_loan_document_round_trips() -> None:
    loan = disbursed_loan()
    assert loan_from_doc(loan_to_doc(loan)) == loan


def test_product_codes_are_normalised() -> None:
    assert normalize_code("  grp-weekly-12 ") == "GRP-WEEKLY-12"
    for bad in ("", "-x", "a b", "x" * 41):
        with pytest.raises(InvalidArgument):
            normalize_code(bad)


def test_a_product_message_reports_every_bad_field_at_once() -> None:
    message = loan_pb2.LoanProduct(
        code="",
        name="x",
        currency="USD",
        principal_min=common_pb2.Money(amount_minor=10_000, currency="USD"),
        principal_max=common_pb2.Money(amount_minor=5_000, currency="EUR"),
        installments_min=4,
        installments_max=2,
        frequency=loan_pb2.WEEKLY,
        annual_rate="1e3",
        late_penalty=loan_pb2.PenaltyTerms(type=loan_pb2.PERCENT, percent="150"),
    )
    with pytest.raises(InvalidArgument) as err:
        product_draft(message)
    fields = {v.field for v in err.value.violations}
    assert {
        "code",
        "principal_max.currency",
        "principal_max",
        "installments_max",
        "interest_method",
        "amortization",
        "annual_rate",
        "late_penalty.percent",
    } <= fields
    # A valid product survives the round trip through its message.
    product = LoanProduct(id="p", code="P", name="Weekly", description="d", terms=TERMS)
    draft = product_draft(product_proto(product))
    assert draft.terms == TERMS


async def test_keyed_locks_serialise_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, tag: str) -> None:
        async with locks.hold(key):
            order.append(f"{tag}+")
            await asyncio.sleep(0)  # yield so an unlocked rival would interleave here
            order.append(f"{tag}-")

    await asyncio.gather(work("a", "1"), work("a", "2"), work("b", "3"))
    assert order.index("1-") < order.index("2+")
    assert locks._locks == {}
