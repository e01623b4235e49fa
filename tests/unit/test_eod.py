"""End of day, pure part: the dates to close and one loan's evaluation on a date.

The loan used here is the ledger tests' one: 1000.00 USD, declining balance,
equal installments, 12% a year monthly, 3 installments, disbursed
2026-01-15, late penalty 5% of the overdue installment after 3 grace days:

    #  due         principal  interest  installment
    1  2026-02-15     33002      1000        34002
    2  2026-03-15     33332       670        34002
    3  2026-04-15     33666       337        34003
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from loan_service.domain.eod import (
    ArrearsEvent,
    LoanRefs,
    bucket_change,
    dates_to_close,
    evaluate_loan,
    scheduled_date,
)
from loan_service.domain.ledger import (
    Transaction,
    TransactionType,
    apply_repayment,
    disburse,
    quote_payoff,
    replay,
    write_off,
)
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from shared.errors import FailedPrecondition, InvalidArgument
from shared.portfolio import BUCKETS, ArrearsBucket, bucket_for

D0 = date(2026, 1, 15)
DUE1, DUE2, DUE3 = date(2026, 2, 15), date(2026, 3, 15), date(2026, 4, 15)
DAY = timedelta(days=1)
REFS = LoanRefs("loan-1", "bor-1", "agent-1", "branch-1", "prod-1")

TERMS = ProductTerms(
    currency="USD",
    principal_min=10_000,
    principal_max=10_000_000,
    installments_min=1,
    installments_max=24,
    frequency=RepaymentFrequency.MONTHLY,
    interest_method=InterestMethod.DECLINING_BALANCE,
    amortization=Amortization.EQUAL_INSTALLMENTS,
    annual_rate=Decimal(12),
    late_penalty=PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
).validate()
MADE = disburse(TERMS, 100_000, 3, disbursement_date=D0, business_date=D0, actor="admin-1")
SCHEDULE = MADE.schedule
START: tuple[Transaction, ...] = (MADE.transaction,)


def pay(txns: tuple[Transaction, ...], pid: str, amount: int, on: date) -> tuple[Transaction, ...]:
    return apply_repayment(
        TERMS, SCHEDULE, txns, payment_id=pid, amount=amount, value_date=on, business_date=on
    ).transactions


# ------------------------------------------------------------------ dates to close


def test_first_close_is_the_requested_date_or_today() -> None:
    today = date(2026, 3, 10)
    assert dates_to_close(None, None, today) == (today,)
    assert dates_to_close(None, date(2026, 3, 1), today) == (date(2026, 3, 1),)


def test_the_next_date_closes_and_the_last_closed_is_a_no_op() -> None:
    today = date(2026, 3, 10)
    assert dates_to_close(date(2026, 3, 9), None, today) == (today,)
    assert dates_to_close(today, None, today) == ()
    assert dates_to_close(today, today, today, catch_up=True) == ()


def test_a_future_date_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        dates_to_close(date(2026, 3, 9), date(2026, 3, 11), date(2026, 3, 10), catch_up=True)
    assert caught.value.violations[0].field == "date"
    assert "2026-03-11 is in the future" in caught.value.message


def test_a_gap_is_refused_naming_the_last_closed_date() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        dates_to_close(date(2026, 3, 5), date(2026, 3, 8), date(2026, 3, 10))
    message = caught.value.message
    assert "last closed date is 2026-03-05" in message
    assert "2026-03-06 must close first" in message
    assert "2 date(s) missing" in message


def test_going_backwards_is_refused_naming_the_last_closed_date() -> None:
    for catch_up in (False, True):
        with pytest.raises(FailedPrecondition, match="last closed date is 2026-03-05"):
            dates_to_close(date(2026, 3, 5), date(2026, 3, 1), date(2026, 3, 10),
                           catch_up=catch_up)


def test_catch_up_closes_each_missing_date_in_order() -> None:
    got = dates_to_close(date(2026, 2, 26), None, date(2026, 3, 2), catch_up=True)
    assert got == (date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2))
    # Across a year end too.
    got = dates_to_close(date(2026, 12, 30), date(2027, 1, 1), date(2027, 1, 5), catch_up=True)
    assert got == (date(2026, 12, 31), date(2027, 1, 1))


# ------------------------------------------------------------------ buckets


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [(0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"),
     (61, "61-90"), (90, "61-90"), (91, "91-180"), (180, "91-180"), (181, ">180"),
     (5000, ">180")],
)
def test_bucket_boundaries(dpd: int, bucket: str) -> None:
    found = bucket_for(dpd)
    assert found.value == bucket
    assert found.min_days <= dpd
    assert found.max_days is None or dpd <= found.max_days


def test_buckets_tile_the_days() -> None:
    for before, after in itertools.pairwise(BUCKETS):
        assert before.max_days is not None
        assert after.min_days == before.max_days + 1
        assert after.rank == before.rank + 1
    assert BUCKETS[-1].max_days is None


def test_bucket_change_events() -> None:
    b = ArrearsBucket
    assert bucket_change(None, b.CURRENT) is None
    assert bucket_change(b.DPD_1_30, b.DPD_1_30) is None
    first = bucket_change(None, b.DPD_1_30)
    assert first is not None
    assert first.event is ArrearsEvent.OVERDUE
    assert first.worsened
    better = bucket_change(b.DPD_61_90, b.DPD_1_30)
    assert better is not None
    assert better.event is ArrearsEvent.OVERDUE
    assert not better.worsened
    cleared = bucket_change(b.OVER_180, b.CURRENT)
    assert cleared is not None
    assert cleared.event is ArrearsEvent.ARREARS_CLEARED
    assert cleared.previous is b.OVER_180


# ------------------------------------------------------------------ one loan


def test_a_loan_not_yet_due_is_current() -> None:
    e = evaluate_loan(TERMS, SCHEDULE, START, DUE1, REFS)
    assert e.status is LoanStatus.ACTIVE
    assert (e.overdue, e.days_past_due, e.arrears_amount) == ((), 0, 0)
    assert e.bucket is ArrearsBucket.CURRENT
    assert e.change is None
    assert e.penalties == ()
    s = e.snapshot
    assert (s.business_date, s.loan_id, s.borrower_id, s.agent_id, s.branch_id, s.product_id) == (
        DUE1, "loan-1", "bor-1", "agent-1", "branch-1", "prod-1")
    assert (s.currency, s.status, s.outstanding_principal) == ("USD", "ACTIVE", 100_000)
    # Installment 1 is due today: its interest is receivable, but it is not in arrears yet.
    assert (s.outstanding_interest, s.arrears_amount, s.days_past_due) == (1_000, 0, 0)


def test_within_the_grace_days_overdue_but_no_penalty() -> None:
    on = DUE1 + 3 * DAY
    e = evaluate_loan(TERMS, SCHEDULE, START, on, REFS)
    assert [row.number for row in e.overdue] == [1]
    assert (e.days_past_due, e.arrears_amount, e.penalties) == (3, 34_002, ())
    assert e.bucket is ArrearsBucket.DPD_1_30
    assert e.change is not None
    assert e.change.event is ArrearsEvent.OVERDUE
    assert e.snapshot.installments_overdue == 1


def test_penalty_after_the_grace_days_once() -> None:
    on = DUE1 + 4 * DAY
    first = evaluate_loan(TERMS, SCHEDULE, START, on, REFS,
                          previous_bucket=ArrearsBucket.DPD_1_30)
    assert len(first.penalties) == 1
    penalty = first.penalties[0]
    # 5% of 34002, half-even; value-dated the day after the grace period.
    assert (penalty.type, penalty.installment_number, penalty.amount) == (
        TransactionType.PENALTY, 1, 1_700)
    assert penalty.value_date == DUE1 + 4 * DAY
    assert penalty.actor == "system"
    assert first.transactions == (*START, penalty)
    assert first.arrears_amount == 34_002 + 1_700
    assert first.snapshot.outstanding_penalties == 1_700
    assert first.change is None  # still 1-30
    again = evaluate_loan(TERMS, SCHEDULE, first.transactions, on, REFS)
    assert again.penalties == ()
    assert again.transactions == first.transactions
    # A later run (or a catch-up of an earlier missed date) adds nothing for installment 1.
    later = evaluate_loan(TERMS, SCHEDULE, first.transactions, DUE1 + 20 * DAY, REFS)
    assert later.penalties == ()


def test_a_late_first_run_charges_every_missed_penalty_with_its_own_value_date() -> None:
    on = DUE3 + 40 * DAY
    e = evaluate_loan(TERMS, SCHEDULE, START, on, REFS)
    assert [(p.installment_number, p.value_date) for p in e.penalties] == [
        (1, DUE1 + 4 * DAY), (2, DUE2 + 4 * DAY), (3, DUE3 + 4 * DAY)]
    assert e.days_past_due == (on - DUE1).days == 99
    assert e.bucket is ArrearsBucket.DPD_91_180
    assert [row.number for row in e.overdue] == [1, 2, 3]
    assert e.arrears_amount == 100_000 + 2_007 + sum(p.amount for p in e.penalties)
    assert e.snapshot.outstanding_interest == 2_007


def test_dpd_is_the_oldest_unpaid_installment() -> None:
    # Installment 1 paid late but within its grace days: settled, no penalty.
    txns = pay(START, "p1", 34_002, DUE1 + 2 * DAY)
    on = DUE2 + 35 * DAY
    e = evaluate_loan(TERMS, SCHEDULE, txns, on, REFS, previous_bucket=ArrearsBucket.DPD_1_30)
    assert [row.number for row in e.overdue] == [2, 3]
    assert [p.installment_number for p in e.penalties] == [2, 3]
    assert e.days_past_due == 35
    assert e.bucket is ArrearsBucket.DPD_31_60
    assert e.change is not None
    assert e.change.worsened
    assert e.change.event is ArrearsEvent.OVERDUE


def test_a_late_payment_pays_the_penalty_first() -> None:
    # The penalty (value date DUE1 + 4) comes before a payment on DUE1 + 10 in the
    # replay, so exactly the installment amount leaves installment 1 short by it.
    txns = pay(START, "p1", 34_002, DUE1 + 10 * DAY)
    e = evaluate_loan(TERMS, SCHEDULE, txns, DUE1 + 10 * DAY, REFS)
    assert [p.amount for p in e.penalties] == [1_700]
    assert e.days_past_due == 10
    assert e.arrears_amount == 1_700


def test_paying_up_clears_arrears() -> None:
    late = evaluate_loan(TERMS, SCHEDULE, START, DUE1 + 5 * DAY, REFS)
    txns = pay(late.transactions, "p1", 34_002 + 1_700, DUE1 + 6 * DAY)
    e = evaluate_loan(TERMS, SCHEDULE, txns, DUE1 + 6 * DAY, REFS,
                      previous_bucket=late.bucket)
    assert (e.days_past_due, e.arrears_amount, e.bucket) == (0, 0, ArrearsBucket.CURRENT)
    assert e.change is not None
    assert e.change.event is ArrearsEvent.ARREARS_CLEARED
    assert e.snapshot.outstanding_principal == 100_000 - 33_002


def test_a_paid_off_loan_is_closed_and_leaves_arrears() -> None:
    on = DUE1 + 5 * DAY
    late = evaluate_loan(TERMS, SCHEDULE, START, on, REFS)
    quote = quote_payoff(TERMS, SCHEDULE, late.transactions, on)
    txns = pay(late.transactions, "p1", quote.total, on)
    e = evaluate_loan(TERMS, SCHEDULE, txns, on, REFS, previous_bucket=ArrearsBucket.DPD_1_30)
    assert e.status is LoanStatus.CLOSED
    assert e.snapshot.status == "CLOSED"
    assert e.change is not None
    assert e.change.event is ArrearsEvent.ARREARS_CLEARED
    assert e.snapshot.outstanding_principal == 0
    assert e.penalties == ()


def test_a_written_off_loan_has_no_event_and_no_balances() -> None:
    on = DUE2 + 10 * DAY
    late = evaluate_loan(TERMS, SCHEDULE, START, on, REFS)
    txns = write_off(TERMS, SCHEDULE, late.transactions, reason="gone", actor="admin-1",
                     business_date=on).transactions
    e = evaluate_loan(TERMS, SCHEDULE, txns, on + 30 * DAY, REFS,
                      previous_bucket=ArrearsBucket.DPD_31_60)
    assert e.status is LoanStatus.WRITTEN_OFF
    assert e.change is None
    assert e.penalties == ()
    s = e.snapshot
    assert (s.outstanding_principal, s.outstanding_interest, s.arrears_amount,
            s.days_past_due) == (0, 0, 0, 0)


def test_a_past_date_describes_the_loan_as_it_was() -> None:
    # Paid off on DUE3; catching up on DUE2 + 5 sees it active, with installment 2 overdue.
    txns = pay(START, "p1", 34_002, DUE1)
    txns = pay(txns, "p2", 34_002 + 34_003, DUE3)
    assert replay(TERMS, SCHEDULE, txns, DUE3).closed
    e = evaluate_loan(TERMS, SCHEDULE, txns, DUE2 + 5 * DAY, REFS)
    assert e.status is LoanStatus.ACTIVE
    assert e.days_past_due == 5
    assert [p.installment_number for p in e.penalties] == [2]


def test_before_disbursement_or_undisbursed_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        evaluate_loan(TERMS, SCHEDULE, START, D0 - DAY, REFS)
    assert caught.value.violations[0].field == "date"
    with pytest.raises(FailedPrecondition, match="not been disbursed"):
        evaluate_loan(TERMS, SCHEDULE, (), D0, REFS)


# ------------------------------------------------------------------ properties


@st.composite
def histories(draw: st.DrawFn) -> tuple[ProductTerms, int, list[tuple[int, int]], list[int]]:
    frequency = draw(st.sampled_from(RepaymentFrequency))
    fixed = draw(st.booleans())
    penalty = (
        PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=draw(st.integers(1, 5_000)),
                     grace_days=draw(st.integers(0, 10)))
        if fixed
        else PenaltyTerms(ChargeType.PERCENT, percent=Decimal(draw(st.integers(1, 20))),
                          grace_days=draw(st.integers(0, 10)))
    )
    terms = ProductTerms(
        currency="USD", principal_min=1_000, principal_max=10**9, installments_min=1,
        installments_max=24, frequency=frequency,
        interest_method=draw(st.sampled_from(InterestMethod)),
        amortization=draw(st.sampled_from(Amortization)),
        annual_rate=Decimal(draw(st.integers(0, 60))), late_penalty=penalty,
    ).validate()
    n = draw(st.integers(1, 8))
    # (day offset, percent of the payoff quote) of each repayment attempt.
    payments = draw(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 100)), max_size=8))
    # Days evaluated, repeats allowed.
    days = draw(st.lists(st.integers(0, 420), min_size=1, max_size=25))
    return terms, n, payments, days


@settings(max_examples=120, deadline=None)
@given(histories())
def test_penalties_are_charged_at_most_once_per_installment(
    history: tuple[ProductTerms, int, list[tuple[int, int]], list[int]],
) -> None:
    terms, n, payments, days = history
    made = disburse(terms, 500_000, n, disbursement_date=D0, business_date=D0, actor="a")
    schedule = made.schedule
    txns: tuple[Transaction, ...] = (made.transaction,)
    pending = sorted(payments)
    paid = 0
    for offset in sorted(days):
        on = D0 + timedelta(days=offset)
        while pending and pending[0][0] <= offset:
            when, share = pending.pop(0)
            value_date = D0 + timedelta(days=when)
            state = replay(terms, schedule, txns, on)
            if state.closed:
                continue
            quote = quote_payoff(terms, schedule, txns, value_date)
            amount = max(1, quote.total * share // 100)
            paid += 1
            try:
                txns = apply_repayment(terms, schedule, txns, payment_id=f"p{paid}",
                                       amount=amount, value_date=value_date,
                                       business_date=on).transactions
            except FailedPrecondition:
                continue  # a backdated payment that later ones already cover
        e = evaluate_loan(terms, schedule, txns, on, REFS)
        txns = e.transactions
        again = evaluate_loan(terms, schedule, txns, on, REFS)
        assert again.penalties == ()
        assert again.snapshot == e.snapshot
        numbers = [t.installment_number for t in txns if t.type is TransactionType.PENALTY]
        assert len(numbers) == len(set(numbers))
        # DPD is the date minus the oldest overdue installment's due date.
        if e.overdue:
            assert e.days_past_due == (on - e.overdue[0].due_date).days
            assert all(row.due_date < on for row in e.overdue)
        else:
            assert e.days_past_due == 0
            assert e.arrears_amount == 0
        assert e.bucket is bucket_for(e.days_past_due)
        assert e.arrears_amount == sum(row.unpaid for row in e.overdue)
    event(f"installments penalised: {min(len(numbers), 3)}")


@pytest.mark.parametrize(
    ("at", "now", "closes"),
    [
        # From noon on, the set time closes the date it falls on ...
        ("23:30", "2026-05-20 23:30", "2026-05-20"),
        ("23:30", "2026-05-20 23:59", "2026-05-20"),
        # ... and before it, the day before's run is the latest due.
        ("23:30", "2026-05-20 23:29", "2026-05-19"),
        ("23:30", "2026-05-21 00:30", "2026-05-20"),
        ("12:00", "2026-05-20 12:00", "2026-05-20"),
        ("12:00", "2026-05-20 11:59", "2026-05-19"),
        # Before noon, it runs after midnight for the day that just ended.
        ("00:30", "2026-05-21 00:30", "2026-05-20"),
        ("00:30", "2026-05-21 23:59", "2026-05-20"),
        ("00:30", "2026-05-21 00:29", "2026-05-19"),
        ("00:00", "2026-05-21 00:00", "2026-05-20"),
        ("11:59", "2026-03-01 11:59", "2026-02-28"),
        ("02:00", "2027-01-01 03:00", "2026-12-31"),
    ],
)
def test_the_scheduled_run_closes_the_latest_date_due(at: str, now: str, closes: str) -> None:
    hour, minute = (int(p) for p in at.split(":"))
    found = scheduled_date(datetime.fromisoformat(now), time(hour, minute))
    assert found == date.fromisoformat(closes)
