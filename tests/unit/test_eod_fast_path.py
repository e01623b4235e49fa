"""End of day's fast path (``close_loan``) against the reference path (``evaluate_loan``).

``close_loan`` is what the end-of-day job runs: ``ledger.close_day`` replays without
allocation records and reads the arrears straight off the book, where ``evaluate_loan``
builds the whole ``LoanState`` and its installments. Both must give the same penalties
(ids, amounts, value dates, reasons), the same transactions, the same snapshot row, the
same bucket event and the same "has a row on this date", bit for bit, on any history:
the generated ones of the penalty tests (partial payments, reversals, write-offs,
earlier end-of-day runs) and random portfolios like the benchmark's, on the first run
(penalties to charge) and again once they are recorded.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from loan_service.domain.eod import (
    LoanClose,
    LoanEvaluation,
    LoanRefs,
    close_loan,
    evaluate_loan,
    in_book,
)
from loan_service.domain.ledger import Transaction, TransactionType, apply_repayment, disburse
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule
from shared.errors import FailedPrecondition
from shared.portfolio import BUCKETS, ArrearsBucket
from tests.unit.test_penalty_charging import cases

REFS = LoanRefs("loan-1", "bor-1", "agent-1", "branch-1", "prod-1")
AT = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)


def assert_same(fast: LoanClose, slow: LoanEvaluation, on: date) -> None:
    assert fast.penalties == slow.penalties
    assert fast.transactions == slow.transactions
    assert fast.snapshot == slow.snapshot
    assert fast.change == slow.change
    assert fast.status is slow.status
    assert fast.bucket is slow.bucket
    assert fast.days_past_due == slow.days_past_due
    assert fast.arrears_amount == slow.arrears_amount
    assert fast.installments_overdue == len(slow.overdue)
    assert fast.in_book == in_book(slow.status, slow.state, on)


def both(
    terms: ProductTerms,
    schedule: Schedule,
    txns: tuple[Transaction, ...],
    on: date,
    previous: ArrearsBucket | None,
) -> tuple[LoanClose, LoanEvaluation]:
    fast = close_loan(terms, schedule, txns, on, REFS, previous_bucket=previous, created_at=AT)
    slow = evaluate_loan(terms, schedule, txns, on, REFS, previous_bucket=previous,
                         created_at=AT)
    return fast, slow


@settings(max_examples=400, deadline=None)
@given(cases(), st.sampled_from([None, *BUCKETS]))
def test_the_fast_path_matches_the_reference_on_generated_histories(
    case: tuple[ProductTerms, Schedule, tuple[Transaction, ...], list[date]],
    previous: ArrearsBucket | None,
) -> None:
    terms, schedule, txns, days = case
    for on in sorted(days):
        if on < schedule.disbursement_date:
            continue
        fast, slow = both(terms, schedule, txns, on, previous)
        assert_same(fast, slow, on)
        # The day after, with the penalties recorded: the steady state.
        txns = fast.transactions
        fast, slow = both(terms, schedule, txns, on + timedelta(days=1), fast.bucket)
        assert_same(fast, slow, on + timedelta(days=1))
        event(f"status {fast.status.value}, penalties {min(len(slow.penalties), 2)}")


def _product(frequency: RepaymentFrequency, method: InterestMethod, penalty: PenaltyTerms,
             amortization: Amortization) -> ProductTerms:
    return ProductTerms(
        currency="KES", principal_min=1_000_00, principal_max=10_000_000_00,
        installments_min=1, installments_max=104, frequency=frequency,
        interest_method=method, amortization=amortization, annual_rate=Decimal("24"),
        fee=FeeTerms(ChargeType.PERCENT, percent=Decimal("2")), late_penalty=penalty,
    ).validate()


PRODUCTS = (
    (_product(RepaymentFrequency.WEEKLY, InterestMethod.FLAT,
              PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=200_00, grace_days=2),
              Amortization.EQUAL_INSTALLMENTS), 16),
    (_product(RepaymentFrequency.BIWEEKLY, InterestMethod.DECLINING_BALANCE,
              PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
              Amortization.EQUAL_PRINCIPAL), 12),
    (_product(RepaymentFrequency.MONTHLY, InterestMethod.DECLINING_BALANCE,
              PenaltyTerms(ChargeType.PERCENT, percent=Decimal("2.5"), grace_days=5),
              Amortization.EQUAL_INSTALLMENTS), 12),
)
CLOSE = date(2026, 12, 1)


Generated = tuple[ProductTerms, Schedule, tuple[Transaction, ...]]


def portfolio(seed: int, count: int) -> list[Generated]:
    """Loans as the benchmark makes them, with partial payments and prepayments too."""
    rng = random.Random(seed)
    loans = []
    for k in range(count):
        terms, n = PRODUCTS[rng.randrange(len(PRODUCTS))]
        start = CLOSE - timedelta(days=rng.randrange(1, 400))
        made = disburse(terms, rng.choice((5_000_00, 25_000_00, 50_000_00)), n,
                        disbursement_date=start, business_date=start, actor="a")
        txns: tuple[Transaction, ...] = (made.transaction,)
        stop = n if rng.random() < 0.8 else rng.randrange(n)
        for index, row in enumerate(made.schedule.rows[:stop]):
            on = row.due_date + timedelta(days=0 if rng.random() < 0.6 else rng.randrange(1, 41))
            if on > CLOSE:
                break
            # Mostly the installment, sometimes part of it or more (a prepayment).
            share = rng.choice((100, 100, 100, 40, 160))
            try:
                txns = apply_repayment(terms, made.schedule, txns, payment_id=f"p{k}-{index}",
                                       amount=max(1, row.total * share // 100), value_date=on,
                                       business_date=on).transactions
            except FailedPrecondition:
                break  # paid off already
        if rng.random() < 0.03:
            last = max(t.value_date for t in txns)
            txns = (*txns, Transaction(f"W{k}", TransactionType.WRITE_OFF, last, 0,
                                       max(t.sequence for t in txns) + 1))
        loans.append((terms, made.schedule, txns))
    return loans


def test_the_fast_path_matches_the_reference_on_a_random_portfolio() -> None:
    statuses: set[str] = set()
    charged = 0
    for terms, schedule, txns in portfolio(seed=13, count=400):
        previous: ArrearsBucket | None = None
        # A first run over the whole history, then three daily runs after it.
        for on in (CLOSE, CLOSE + timedelta(days=1), CLOSE + timedelta(days=2),
                   CLOSE + timedelta(days=9)):
            fast, slow = both(terms, schedule, txns, on, previous)
            assert_same(fast, slow, on)
            charged += len(fast.penalties)
            statuses.add(fast.status.value)
            txns, previous = fast.transactions, fast.bucket
    # The portfolio exercises what it should: every status, penalties charged.
    assert statuses == {"ACTIVE", "CLOSED", "WRITTEN_OFF"}
    assert charged > 100
