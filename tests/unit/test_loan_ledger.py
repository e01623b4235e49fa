"""Replay, allocation, payoff, reversal, waivers, write-off and late penalties.

The loan used throughout: 1000.00 USD, declining balance, equal installments,
12% a year monthly (r = 1%), 3 installments, disbursed 2026-01-15:

    #  due         principal  interest  installment
    1  2026-02-15     33002      1000        34002
    2  2026-03-15     33332       670        34002
    3  2026-04-15     33666       337        34003
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from loan_service.adapters.loan_repository import transaction_from_doc, transaction_to_doc
from loan_service.domain.ledger import (
    Allocation,
    InstallmentAllocation,
    InstallmentStatus,
    LoanState,
    ReversalResult,
    Transaction,
    TransactionType,
    WriteOffResult,
    apply_repayment,
    charge_late_penalties,
    disburse,
    effective_transactions,
    late_penalties_due,
    payoff_quote,
    quote_payoff,
    replay,
    reverse_repayment,
    waive_charges,
    write_off,
)
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

D0 = date(2026, 1, 15)
DUE1, DUE2, DUE3 = date(2026, 2, 15), date(2026, 3, 15), date(2026, 4, 15)
TODAY = date(2026, 6, 30)
PENDING, PARTIAL, PAID = (
    InstallmentStatus.PENDING,
    InstallmentStatus.PARTIAL,
    InstallmentStatus.PAID,
)
OVERDUE, WAIVED = InstallmentStatus.OVERDUE, InstallmentStatus.WAIVED

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
    # 5% of the overdue installment, after 3 grace days.
    late_penalty=PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
).validate()


@pytest.fixture(scope="module")
def loan() -> tuple[Schedule, tuple[Transaction, ...]]:
    made = disburse(TERMS, 100_000, 3, disbursement_date=D0, business_date=D0, actor="admin-1")
    return made.schedule, (made.transaction,)


class Loan:
    """Small driver: keeps the transaction list and applies things in order."""

    def __init__(self, schedule: Schedule, txns: tuple[Transaction, ...]) -> None:
        self.schedule = schedule
        self.txns = txns

    def pay(self, payment_id: str, amount: int, on: date, business: date = TODAY) -> Allocation:
        result = apply_repayment(
            TERMS,
            self.schedule,
            self.txns,
            payment_id=payment_id,
            amount=amount,
            value_date=on,
            business_date=business,
            actor="agent-1",
        )
        self.txns = result.transactions
        return result.allocation

    def state(self, as_of: date = TODAY) -> LoanState:
        return replay(TERMS, self.schedule, self.txns, as_of)


@pytest.fixture
def book(loan: tuple[Schedule, tuple[Transaction, ...]]) -> Loan:
    return Loan(*loan)


def statuses(state: LoanState) -> list[InstallmentStatus]:
    return [row.status for row in state.installments]


# ------------------------------------------------------------------ state without payments


def test_fresh_loan(book: Loan) -> None:
    state = book.state(D0)
    assert statuses(state) == [PENDING, PENDING, PENDING]
    assert state.outstanding_principal == 100_000
    # Everything still to pay under the schedule, due yet or not: 34,002 + 34,002 + 34,003.
    assert state.outstanding_interest == 2_007
    assert state.total_outstanding == 102_007
    assert (state.days_past_due, state.arrears_amount) == (0, 0)
    assert (state.next_due_date, state.next_due_amount) == (DUE1, 34_002)
    assert not state.closed
    assert not state.written_off


def test_overdue_and_days_past_due(book: Loan) -> None:
    on_due = book.state(DUE1)
    # Due today is in arrears but not yet past due.
    assert statuses(on_due) == [PENDING, PENDING, PENDING]
    assert (on_due.days_past_due, on_due.arrears_amount) == (0, 34_002)
    assert (on_due.next_due_date, on_due.next_due_amount) == (DUE1, 34_002)
    later = book.state(date(2026, 3, 20))
    assert statuses(later) == [OVERDUE, OVERDUE, PENDING]
    # DPD counts from the oldest unpaid installment: Feb 15 -> Mar 20 = 33 days.
    assert later.days_past_due == 33
    assert [row.days_past_due for row in later.installments] == [33, 5, 0]
    assert later.arrears_amount == 68_004
    assert later.outstanding_interest == 2_007  # all of it, not only the 1,670 due
    assert later.installments_overdue == 2
    assert (later.next_due_date, later.next_due_amount) == (DUE3, 34_003)


# ------------------------------------------------------------------ allocation


def test_on_time_payment(book: Loan) -> None:
    allocation = book.pay("p1", 34_002, DUE1)
    assert allocation == Allocation(
        interest=1_000,
        principal=33_002,
        installments=(InstallmentAllocation(1, 0, 0, 1_000, 33_002),),
    )
    state = book.state(DUE1)
    assert statuses(state) == [PAID, PENDING, PENDING]
    assert state.installments[0].paid_date == DUE1
    assert state.outstanding_principal == 66_998
    assert state.total_paid == 34_002
    assert state.installments_paid == 1


def test_partial_payment_interest_first_then_overdue(book: Loan) -> None:
    allocation = book.pay("p1", 10_000, date(2026, 2, 10))
    # Installment 1 is the current period's: interest first, then principal.
    assert (allocation.interest, allocation.principal) == (1_000, 9_000)
    assert statuses(book.state(date(2026, 2, 10))) == [PARTIAL, PENDING, PENDING]
    after = book.state(date(2026, 2, 16))
    assert statuses(after) == [OVERDUE, PENDING, PENDING]
    assert after.days_past_due == 1
    assert after.arrears_amount == 24_002


def test_oldest_installment_first(book: Loan) -> None:
    allocation = book.pay("p1", 40_000, date(2026, 3, 20))
    # Both 1 and 2 are overdue: all of 1, then 2's interest, then its principal.
    assert allocation.installments == (
        InstallmentAllocation(1, 0, 0, 1_000, 33_002),
        InstallmentAllocation(2, 0, 0, 670, 5_328),
    )


def test_penalty_then_fee_then_interest_then_principal(book: Loan) -> None:
    book.txns = (
        *book.txns,
        Transaction("pen", TransactionType.PENALTY, date(2026, 2, 20), 500, 50,
                    installment_number=1),
    )
    allocation = book.pay("p1", 1_200, date(2026, 2, 21))
    assert allocation.installments == (InstallmentAllocation(1, 500, 0, 700, 0),)
    state = book.state(date(2026, 2, 21))
    row = state.installments[0]
    assert (row.penalty_due, row.penalty_paid, row.interest_paid) == (500, 500, 700)


def test_penalty_on_a_not_yet_due_installment_is_still_payable(book: Loan) -> None:
    # The end-of-day job never does this, but replay must cope: the quote includes it and
    # paying the quote settles it and closes the loan.
    book.txns = (
        *book.txns,
        Transaction("pen", TransactionType.PENALTY, date(2026, 2, 1), 300, 50,
                    installment_number=3),
    )
    on = date(2026, 2, 2)
    quote = quote_payoff(TERMS, book.schedule, book.txns, on)
    assert (quote.penalties, quote.total) == (300, 100_000 + 1_000 + 300)
    allocation = book.pay("p1", quote.total, on)
    assert allocation.penalty == 300
    assert book.state(on).closed
    # Harder: all principal already paid when the penalty lands on a later installment.
    book.txns = (
        *book.txns,
        Transaction("pen2", TransactionType.PENALTY, date(2026, 2, 3), 200, 51,
                    installment_number=3),
    )
    assert not book.state(date(2026, 2, 3)).closed
    assert quote_payoff(TERMS, book.schedule, book.txns, date(2026, 2, 4)).total == 200
    assert book.pay("p2", 200, date(2026, 2, 4)).penalty == 200
    assert book.state(date(2026, 2, 4)).closed


def test_prepayment_goes_to_later_principal_only(book: Loan) -> None:
    # On Feb 15 installment 1 is due; installment 2's period (Feb 15, Mar 15] has not begun,
    # so the extra 15998 is a prepayment of its principal; its 670 interest stays due.
    allocation = book.pay("p1", 50_000, DUE1)
    assert allocation.installments == (
        InstallmentAllocation(1, 0, 0, 1_000, 33_002),
        InstallmentAllocation(2, 0, 0, 0, 15_998),
    )
    state = book.state(DUE1)
    assert statuses(state) == [PAID, PARTIAL, PENDING]
    assert (state.next_due_date, state.next_due_amount) == (DUE2, 34_002 - 15_998)


def test_early_payment_in_the_current_period_pays_its_interest(book: Loan) -> None:
    # On Feb 16 installment 2's period has begun: its interest is chargeable.
    allocation = book.pay("p1", 50_000, date(2026, 2, 16))
    assert allocation.installments == (
        InstallmentAllocation(1, 0, 0, 1_000, 33_002),
        InstallmentAllocation(2, 0, 0, 670, 15_328),
    )


def test_prepayment_past_one_installment_flows_to_the_next(book: Loan) -> None:
    allocation = book.pay("p1", 70_000, date(2026, 2, 1))
    assert allocation.installments == (
        InstallmentAllocation(1, 0, 0, 1_000, 33_002),
        InstallmentAllocation(2, 0, 0, 0, 33_332),
        InstallmentAllocation(3, 0, 0, 0, 2_666),
    )


# ------------------------------------------------------------------ payoff


def test_payoff_quote_rules(book: Loan) -> None:
    # Disbursement day: no period has begun, so principal only; all interest forgiven.
    quote = quote_payoff(TERMS, book.schedule, book.txns, D0)
    assert (quote.total, quote.interest, quote.interest_waived) == (100_000, 0, 2_007)
    # Inside period 1: its full interest, not a day-count fraction.
    quote = quote_payoff(TERMS, book.schedule, book.txns, date(2026, 1, 16))
    assert (quote.total, quote.interest, quote.interest_waived) == (101_000, 1_000, 1_007)
    book.pay("p1", 34_002, DUE1)
    # On a due date the current period is the one ending that day.
    on_due2 = quote_payoff(TERMS, book.schedule, book.txns, DUE2)
    assert (on_due2.principal, on_due2.interest, on_due2.interest_waived) == (66_998, 670, 337)
    assert on_due2.total == 67_668
    day_after = quote_payoff(TERMS, book.schedule, book.txns, date(2026, 3, 16))
    assert (day_after.interest, day_after.total, day_after.interest_waived) == (1_007, 68_005, 0)
    # After maturity everything is due.
    late = quote_payoff(TERMS, book.schedule, book.txns, date(2026, 5, 1))
    assert late.total == 34_002 + 34_003


def test_paying_the_quote_closes_and_records_the_waived_interest(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    on = date(2026, 2, 20)
    quote = quote_payoff(TERMS, book.schedule, book.txns, on)
    assert quote.total == 66_998 + 670
    allocation = book.pay("p2", quote.total, on)
    assert allocation.interest_waived == 337
    assert (allocation.interest, allocation.principal) == (670, 66_998)
    state = book.state(on)
    assert state.closed
    assert state.closed_date == on
    assert statuses(state) == [PAID, PAID, WAIVED]
    assert state.installments[2].interest_waived == 337
    assert state.total_outstanding == 0
    assert state.total_waived == 337
    assert payoff_quote(state).total == 0


def test_payment_above_the_payoff_is_refused_with_the_amount(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    on = date(2026, 2, 20)
    with pytest.raises(FailedPrecondition) as info:
        book.pay("p2", 67_669, on)
    assert str(info.value) == (
        "repayment of 676.69 USD exceeds the payoff amount of 676.68 USD on 2026-02-20"
    )


def test_payoff_quote_date_checks(book: Loan) -> None:
    state = book.state(DUE1)
    with pytest.raises(InvalidArgument) as info:
        payoff_quote(state, D0)
    assert info.value.violations[0].field == "date"
    with pytest.raises(InvalidArgument):
        quote_payoff(TERMS, book.schedule, book.txns, date(2026, 1, 1))


# ------------------------------------------------------------------ validation and idempotency


@pytest.mark.parametrize(
    ("on", "business"),
    [(date(2026, 1, 14), TODAY), (date(2026, 7, 1), TODAY), (DUE2, DUE1)],
)
def test_value_date_bounds(book: Loan, on: date, business: date) -> None:
    with pytest.raises(InvalidArgument) as info:
        book.pay("p1", 100, on, business)
    assert [v.field for v in info.value.violations] == ["value_date"]


def test_amount_and_payment_id_required(book: Loan) -> None:
    for amount in (0, -5):
        with pytest.raises(InvalidArgument, match="amount"):
            book.pay("p1", amount, DUE1)
    with pytest.raises(InvalidArgument, match="payment_id"):
        book.pay("", 100, DUE1)


def test_value_date_may_be_the_disbursement_day(book: Loan) -> None:
    allocation = book.pay("p1", 100, D0)
    assert allocation.principal == 100


def test_not_disbursed(book: Loan) -> None:
    with pytest.raises(FailedPrecondition, match="not been disbursed"):
        apply_repayment(
            TERMS, book.schedule, (), payment_id="p1", amount=100, value_date=DUE1,
            business_date=TODAY,
        )


def test_idempotent_on_payment_id(book: Loan) -> None:
    first = apply_repayment(
        TERMS, book.schedule, book.txns, payment_id="p1", amount=5_000, value_date=DUE1,
        business_date=TODAY,
    )
    again = apply_repayment(
        TERMS, book.schedule, first.transactions, payment_id="p1", amount=5_000,
        value_date=DUE1, business_date=TODAY,
    )
    assert again.replayed
    assert not first.replayed
    assert again.transaction == first.transaction
    assert again.allocation == first.allocation
    assert again.transactions == first.transactions
    assert again.state == first.state
    with pytest.raises(AlreadyExists, match="already applied"):
        apply_repayment(
            TERMS, book.schedule, first.transactions, payment_id="p1", amount=5_001,
            value_date=DUE1, business_date=TODAY,
        )


def test_backdated_repayment_replays(book: Loan) -> None:
    book.pay("late", 34_002, date(2026, 3, 1))
    book.pay("early", 10_000, date(2026, 2, 10))
    # Same as entering them in value-date order.
    ordered = Loan(book.schedule, book.txns[:1])
    ordered.pay("early", 10_000, date(2026, 2, 10))
    ordered.pay("late", 34_002, date(2026, 3, 1))
    assert book.state().installments == ordered.state().installments
    # The later payment's allocation changed: installment 1 was partly paid before it.
    late = book.state().allocations[book.txns[1].id]
    assert late.installments[0] == InstallmentAllocation(1, 0, 0, 0, 24_002)


def test_backdated_payment_that_would_overpay_is_refused(book: Loan) -> None:
    on = date(2026, 2, 20)
    book.pay("payoff", quote_payoff(TERMS, book.schedule, book.txns, on).total, on)
    with pytest.raises(FailedPrecondition, match="would overpay the loan"):
        book.pay("extra", 1_000, date(2026, 2, 1))


def test_closed_loan_refuses_more(book: Loan) -> None:
    on = date(2026, 2, 20)
    book.pay("payoff", quote_payoff(TERMS, book.schedule, book.txns, on).total, on)
    with pytest.raises(FailedPrecondition, match=r"payoff amount of 0\.00 USD"):
        book.pay("extra", 1, date(2026, 2, 21))


# ------------------------------------------------------------------ reversal


def test_reversal_restores_the_prior_state(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    before = book.state(date(2026, 3, 1))
    book.pay("p2", 20_000, date(2026, 2, 25), business=date(2026, 3, 1))
    assert book.state(date(2026, 3, 1)) != before
    result = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="p2", reason="cheque bounced",
        actor="admin-1", business_date=date(2026, 3, 1),
    )
    assert result.transaction.type is TransactionType.REVERSAL
    assert result.transaction.reverses == result.reversed_transaction.id
    assert result.state == before


def test_reversal_errors(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)

    def reverse(txns: tuple[Transaction, ...], payment_id: str, reason: str) -> ReversalResult:
        return reverse_repayment(
            TERMS, book.schedule, txns, payment_id=payment_id, reason=reason,
            actor="admin-1", business_date=TODAY,
        )

    with pytest.raises(NotFound):
        reverse(book.txns, "nope", "x")
    with pytest.raises(InvalidArgument, match="reason"):
        reverse(book.txns, "p1", " ")
    done = reverse(book.txns, "p1", "error")
    with pytest.raises(FailedPrecondition, match="already reversed"):
        reverse(done.transactions, "p1", "again")
    # A reversed payment id cannot be applied again.
    with pytest.raises(FailedPrecondition, match="reversed"):
        apply_repayment(
            TERMS, book.schedule, done.transactions, payment_id="p1", amount=34_002,
            value_date=DUE1, business_date=TODAY,
        )


def test_reversing_the_closing_payment_reopens(book: Loan) -> None:
    on = date(2026, 2, 20)
    book.pay("payoff", quote_payoff(TERMS, book.schedule, book.txns, on).total, on)
    assert book.state().closed
    result = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="payoff", reason="bounced",
        actor="admin-1", business_date=TODAY,
    )
    assert not result.state.closed
    assert result.state.outstanding_principal == 100_000


def test_reversal_is_effective_from_its_own_date(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    done = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="p1", reason="bounced",
        actor="admin-1", business_date=date(2026, 3, 1),
    )
    # As of a date before the reversal was recorded, history shows the payment.
    history = replay(TERMS, book.schedule, done.transactions, date(2026, 2, 20))
    assert history.principal_paid == 33_002
    assert replay(TERMS, book.schedule, done.transactions, date(2026, 3, 1)).principal_paid == 0


def test_a_payment_backdated_to_replace_a_bounced_one_meets_the_real_payoff(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1, business=DUE1)
    bounced = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="p1", reason="cheque bounced",
        actor="admin-1", business_date=date(2026, 3, 1),
    )
    book.txns = bounced.transactions
    on = date(2026, 2, 20)
    # The reversal is dated Mar 1, after the replacement's value date; the quote
    # still owes everything the bounced payment seemed to pay.
    quote = quote_payoff(TERMS, book.schedule, book.txns, on)
    never_paid = quote_payoff(TERMS, book.schedule, (book.txns[0],), on)
    assert quote == never_paid
    assert quote.principal == 100_000
    book.pay("p2", quote.total, on, business=date(2026, 3, 1))
    assert book.state(date(2026, 3, 1)).closed


def test_a_backdated_waiver_sees_a_bounced_payment_as_unpaid(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1, business=DUE1)
    bounced = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="p1", reason="cheque bounced",
        actor="admin-1", business_date=date(2026, 3, 1),
    )
    result = waive_charges(
        TERMS, book.schedule, bounced.transactions, installment_number=1, penalty_amount=0,
        interest_amount=1_000, reason="hardship", actor="admin-1",
        value_date=date(2026, 2, 20), business_date=date(2026, 3, 1),
    )
    assert result.state.installments[0].interest_waived == 1_000


# ------------------------------------------------------------------ waivers


def test_waive_penalty_and_interest(book: Loan) -> None:
    txns = (*book.txns, Transaction("pen", TransactionType.PENALTY, date(2026, 2, 20), 500, 9,
                                    installment_number=1))
    result = waive_charges(
        TERMS, book.schedule, txns, installment_number=1, penalty_amount=500,
        interest_amount=1_000, reason="hardship", actor="admin-1",
        value_date=date(2026, 2, 21), business_date=TODAY,
    )
    assert result.allocation.installments == (InstallmentAllocation(1, 500, 0, 1_000, 0),)
    row = result.state.installments[0]
    assert (row.penalty_waived, row.interest_waived, row.unpaid) == (500, 1_000, 33_002)
    # Paying the principal settles it, with interest forgiven: WAIVED.
    after = apply_repayment(
        TERMS, book.schedule, result.transactions, payment_id="p1", amount=33_002,
        value_date=date(2026, 2, 22), business_date=TODAY,
    )
    assert after.state.installments[0].status is WAIVED
    assert after.allocation.principal == 33_002


def test_waiver_limits(book: Loan) -> None:
    def waive(**kwargs: object) -> None:
        args: dict[str, object] = {
            "installment_number": 1, "penalty_amount": 0, "interest_amount": 100,
            "reason": "r", "actor": "a", "value_date": DUE1, "business_date": TODAY,
        }
        args.update(kwargs)
        waive_charges(TERMS, book.schedule, book.txns, **args)  # type: ignore[arg-type]

    with pytest.raises(InvalidArgument) as info:
        waive(penalty_amount=1)
    assert info.value.violations[0].field == "penalty_amount"
    assert "exceeds the unpaid penalty 0.00 USD" in str(info.value)
    with pytest.raises(InvalidArgument, match="interest_amount"):
        waive(interest_amount=1_001)
    with pytest.raises(InvalidArgument, match="installment_number"):
        waive(installment_number=4)
    with pytest.raises(InvalidArgument, match="reason"):
        waive(reason="")
    with pytest.raises(InvalidArgument, match="penalty_amount"):
        waive(interest_amount=0)


def test_backdated_waiver_that_would_overpay_is_refused(book: Loan) -> None:
    on = date(2026, 2, 20)
    book.pay("payoff", quote_payoff(TERMS, book.schedule, book.txns, on).total, on)
    with pytest.raises(FailedPrecondition, match="overpay"):
        waive_charges(
            TERMS, book.schedule, book.txns, installment_number=2, penalty_amount=0,
            interest_amount=670, reason="r", actor="a", value_date=date(2026, 2, 16),
            business_date=TODAY,
        )


# ------------------------------------------------------------------ write-off and recovery


def test_write_off_then_recoveries(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    on = date(2026, 3, 20)
    result = write_off(
        TERMS, book.schedule, book.txns, reason="borrower absconded", actor="admin-1",
        business_date=on,
    )
    # Principal 66998 + installment 2's interest (due Mar 15) 670; installment 3's is not due.
    assert result.written_off_amount == 67_668
    state = result.state
    assert state.written_off
    assert not state.closed
    assert state.total_outstanding == 0
    assert state.days_past_due == 5
    book.txns = result.transactions
    with pytest.raises(FailedPrecondition, match="written off"):
        payoff_quote(book.state(date(2026, 4, 1)))
    allocation = book.pay("r1", 10_000, date(2026, 4, 1))
    assert allocation == Allocation(recovery=10_000)
    recovered = book.state(date(2026, 4, 1))
    assert (recovered.recovered_amount, recovered.recoverable) == (10_000, 57_668)
    with pytest.raises(FailedPrecondition, match=r"unrecovered written-off amount of 576\.68 USD"):
        book.pay("r2", 57_669, date(2026, 4, 2))
    with pytest.raises(InvalidArgument, match="value_date"):
        book.pay("r3", 100, date(2026, 3, 19))
    back = reverse_repayment(
        TERMS, book.schedule, book.txns, payment_id="r1", reason="bounced", actor="admin-1",
        business_date=date(2026, 4, 2),
    )
    assert back.state.recovered_amount == 0


def test_a_repayment_before_the_write_off_cannot_be_reversed(book: Loan) -> None:
    book.pay("p1", 34_002, DUE1)
    done = write_off(
        TERMS, book.schedule, book.txns, reason="borrower absconded", actor="admin-1",
        business_date=date(2026, 3, 20),
    )
    with pytest.raises(FailedPrecondition, match="written off on 2026-03-20"):
        reverse_repayment(
            TERMS, book.schedule, done.transactions, payment_id="p1", reason="bounced",
            actor="admin-1", business_date=date(2026, 3, 21),
        )
    # The amount written off stays the one recorded and published.
    assert replay(TERMS, book.schedule, done.transactions, TODAY).written_off_amount == 67_668


def test_write_off_refusals(book: Loan) -> None:
    def off(
        txns: tuple[Transaction, ...], reason: str = "r", on: date | None = None
    ) -> WriteOffResult:
        return write_off(
            TERMS, book.schedule, txns, reason=reason, actor="admin-1", business_date=TODAY,
            value_date=on,
        )

    with pytest.raises(InvalidArgument, match="reason"):
        off(book.txns, reason="")
    done = off(book.txns)
    with pytest.raises(FailedPrecondition, match="already written off"):
        off(done.transactions)
    book.pay("p1", 5_000, date(2026, 3, 1))
    with pytest.raises(InvalidArgument, match="latest transaction"):
        off(book.txns, on=date(2026, 2, 1))
    on = date(2026, 3, 2)
    book.pay("payoff", quote_payoff(TERMS, book.schedule, book.txns, on).total, on)
    with pytest.raises(FailedPrecondition, match="fully paid"):
        off(book.txns)


# ------------------------------------------------------------------ late penalties


def test_penalty_after_grace_days(book: Loan) -> None:
    # Due Feb 15, 3 grace days: Feb 18 is the last free day, nothing is charged through it.
    assert late_penalties_due(TERMS, book.schedule, book.txns, date(2026, 2, 18)) == []
    charged = charge_late_penalties(TERMS, book.schedule, book.txns, date(2026, 2, 19))
    # 5% of the unpaid 34002 = 1700.1 -> 1700, dated the first late day.
    assert [(t.installment_number, t.amount, t.value_date) for t in charged.charged] == [
        (1, 1_700, date(2026, 2, 19))
    ]
    assert charged.state.outstanding_penalties == 1_700
    # Idempotent: a second run charges nothing more.
    again = charge_late_penalties(TERMS, book.schedule, charged.transactions, date(2026, 2, 25))
    assert again.charged == ()
    # A late run (May 1) charges each late installment once, dated as a daily run would.
    late = charge_late_penalties(TERMS, book.schedule, book.txns, date(2026, 5, 1))
    assert [(t.installment_number, t.value_date) for t in late.charged] == [
        (1, date(2026, 2, 19)),
        (2, date(2026, 3, 19)),
        (3, date(2026, 4, 19)),
    ]


def test_no_penalty_when_paid_within_grace(book: Loan) -> None:
    book.pay("p1", 34_002, date(2026, 2, 18))
    assert late_penalties_due(TERMS, book.schedule, book.txns, date(2026, 2, 25)) == []


def test_penalty_when_paid_after_grace(book: Loan) -> None:
    book.pay("p1", 34_002, date(2026, 2, 19))
    # The run on Feb 20 sees it was unpaid at the end of Feb 18.
    assert late_penalties_due(TERMS, book.schedule, book.txns, date(2026, 2, 20)) != []


def test_penalty_base_is_what_was_still_owed(book: Loan) -> None:
    book.pay("p1", 24_002, date(2026, 2, 10))
    charged = late_penalties_due(TERMS, book.schedule, book.txns, date(2026, 2, 19))
    # 5% of the 10000 left = 500.
    assert [(c.installment_number, c.amount) for c in charged] == [(1, 500)]


def test_fixed_penalty_and_no_penalty_product(book: Loan) -> None:
    fixed = replace(TERMS, late_penalty=PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=250))
    charged = late_penalties_due(fixed, book.schedule, book.txns, date(2026, 2, 17))
    assert [(c.installment_number, c.amount, c.value_date) for c in charged] == [
        (1, 250, date(2026, 2, 16))
    ]
    plain = replace(TERMS, late_penalty=None)
    assert late_penalties_due(plain, book.schedule, book.txns, TODAY) == []


# ------------------------------------------------------------------ plumbing


def test_transaction_round_trips_through_dict() -> None:
    txn = Transaction(
        "T000009", TransactionType.WAIVER, DUE1, 700, 9, installment_number=2,
        penalty_amount=200, interest_amount=500, reason="r", actor="a",
        created_at=datetime(2026, 2, 15, 9, 30, tzinfo=UTC),
    )
    assert transaction_from_doc(transaction_to_doc(txn)) == txn


def test_effective_transactions_order_and_reversals() -> None:
    a = Transaction("a", TransactionType.REPAYMENT, DUE2, 1, 5, payment_id="pa")
    b = Transaction("b", TransactionType.REPAYMENT, DUE1, 1, 7, payment_id="pb")
    c = Transaction("c", TransactionType.REPAYMENT, DUE1, 1, 6, payment_id="pc")
    rev = Transaction("r", TransactionType.REVERSAL, DUE3, 1, 8, reverses="a")
    assert [t.id for t in effective_transactions([a, b, c, rev])] == ["c", "b"]
    assert [t.id for t in effective_transactions([a, b, c, rev], DUE2)] == ["c", "b", "a"]


def test_disburse_refuses_a_future_date() -> None:
    with pytest.raises(InvalidArgument, match="disbursement_date"):
        disburse(TERMS, 100_000, 3, disbursement_date=date(2026, 2, 1), business_date=D0,
                 actor="a")


def test_currency_mismatch_is_refused(book: Loan) -> None:
    with pytest.raises(InvalidArgument):
        replay(replace(TERMS, currency="EUR"), book.schedule, book.txns, TODAY)
