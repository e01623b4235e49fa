"""Properties of replay and allocation, over generated loans and repayment histories."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from loan_service.domain.ledger import (
    LoanState,
    Transaction,
    TransactionType,
    apply_repayment,
    quote_payoff,
    replay,
    reverse_repayment,
)
from loan_service.domain.products import (
    Amortization,
    InterestMethod,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule, generate_schedule
from shared.errors import FailedPrecondition

MAX_N = {RepaymentFrequency.WEEKLY: 30, RepaymentFrequency.BIWEEKLY: 20,
         RepaymentFrequency.MONTHLY: 18}


@dataclass
class History:
    terms: ProductTerms
    schedule: Schedule
    txns: tuple[Transaction, ...]
    # (value date, amount) of the repayments asked for, in the order they were applied.
    asked: list[tuple[date, int]]
    business: date

    def state(self, txns: tuple[Transaction, ...] | None = None) -> LoanState:
        return replay(self.terms, self.schedule, self.txns if txns is None else txns,
                      self.business)

    def apply(
        self, txns: tuple[Transaction, ...], payment_id: str, amount: int, on: date
    ) -> tuple[Transaction, ...]:
        return apply_repayment(
            self.terms, self.schedule, txns, payment_id=payment_id, amount=amount,
            value_date=on, business_date=self.business,
        ).transactions


@st.composite
def loans(draw: st.DrawFn) -> tuple[ProductTerms, Schedule, Transaction]:
    frequency = draw(st.sampled_from(RepaymentFrequency))
    n = draw(st.integers(1, MAX_N[frequency]))
    grace = draw(st.integers(0, min(2, n - 1)))
    multiple = draw(st.sampled_from([1, 1, 100]))
    terms = ProductTerms(
        currency="USD",
        principal_min=100,
        principal_max=10**9,
        installments_min=grace + 1,
        installments_max=520,
        frequency=frequency,
        interest_method=draw(st.sampled_from(InterestMethod)),
        amortization=draw(st.sampled_from(Amortization)),
        annual_rate=draw(st.decimals(min_value=0, max_value=80, places=1)),
        principal_grace_installments=grace,
        rounding_multiple_minor=multiple,
    ).validate()
    principal = draw(st.integers(10_000, 10**8))
    start = draw(st.dates(date(2022, 1, 1), date(2030, 12, 31)))
    schedule = generate_schedule(terms, principal, n, start)
    disbursement = Transaction("D", TransactionType.DISBURSEMENT, start, principal, 1)
    return terms, schedule, disbursement


@st.composite
def histories(draw: st.DrawFn, max_payments: int = 8) -> History:
    terms, schedule, disbursement = draw(loans())
    span = (schedule.maturity_date - schedule.disbursement_date).days + 60
    business = schedule.disbursement_date + timedelta(days=span)
    # Repayments in value-date order, each at most the payoff on its date.
    count = draw(st.integers(0, max_payments))
    days = sorted(draw(st.lists(st.integers(0, span), min_size=count, max_size=count)))
    typical = max(schedule.total_repayable // max(schedule.installments, 1), 1)
    history = History(terms, schedule, (disbursement,), [], business)
    for index, offset in enumerate(days):
        on = schedule.disbursement_date + timedelta(days=offset)
        payoff = quote_payoff(terms, schedule, history.txns, on).total
        if payoff == 0:
            break
        # Mostly installment-sized payments, sometimes odd amounts, now and then a payoff.
        kind = draw(st.sampled_from(["installment", "installment", "odd", "odd", "payoff"]))
        if kind == "installment":
            wanted = typical + draw(st.integers(-typical // 10, typical // 10))
        elif kind == "odd":
            wanted = draw(st.integers(1, typical * 3))
        else:
            wanted = payoff
        amount = min(wanted, payoff)
        history.txns = history.apply(history.txns, f"p{index}", amount, on)
        history.asked.append((on, amount))
    return history


def check_invariants(state: LoanState, txns: tuple[Transaction, ...]) -> None:
    for row in state.installments:
        assert 0 <= row.principal_paid <= row.principal_due
        assert 0 <= row.interest_paid + row.interest_waived <= row.interest_due
        assert 0 <= row.fee_paid <= row.fee_due
        assert 0 <= row.penalty_paid + row.penalty_waived <= row.penalty_due
        assert row.unpaid >= 0
    # Every repayment is allocated exactly, component by component and installment by
    # installment, and what the allocations say is what the rows received.
    paid_by_row: dict[int, list[int]] = {}
    amounts = {t.id: t.amount for t in txns if t.type is TransactionType.REPAYMENT}
    for txn_id, amount in amounts.items():
        allocation = state.allocations[txn_id]
        assert allocation.unallocated == 0
        assert allocation.total == amount
        parts = allocation.installments
        assert sum(p.total for p in parts) == amount
        assert sum(p.principal for p in parts) == allocation.principal
        assert sum(p.interest for p in parts) == allocation.interest
        assert sum(p.penalty for p in parts) == allocation.penalty
        for part in parts:
            assert min(part.penalty, part.fee, part.interest, part.principal) >= 0
            sums = paid_by_row.setdefault(part.installment_number, [0, 0, 0, 0])
            sums[0] += part.penalty
            sums[1] += part.fee
            sums[2] += part.interest
            sums[3] += part.principal
    for row in state.installments:
        expected = paid_by_row.get(row.number, [0, 0, 0, 0])
        assert [row.penalty_paid, row.fee_paid, row.interest_paid, row.principal_paid] == expected
    assert state.total_paid == sum(amounts.values())
    principal = sum(row.principal_due for row in state.installments)
    assert state.outstanding_principal == principal - state.principal_paid
    assert state.closed == all(row.unpaid == 0 for row in state.installments)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_allocation_is_exact_and_never_pays_more_than_due(history: History) -> None:
    state = history.state()
    event(f"repayments: {len(history.asked)}")
    event("closed" if state.closed else "open")
    check_invariants(state, history.txns)


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_any_insertion_order_gives_the_same_state(history: History, rng: object) -> None:
    import random

    assert isinstance(rng, random.Random)
    expected = history.state()
    # The list order never matters: replay sorts by (value date, sequence).
    shuffled = list(history.txns)
    rng.shuffle(shuffled)
    assert history.state(tuple(shuffled)) == expected
    # Entering the same repayments in any order (backdating some) gives the same loan.
    order = list(range(len(history.asked)))
    rng.shuffle(order)
    txns: tuple[Transaction, ...] = history.txns[:1]
    for index in order:
        on, amount = history.asked[index]
        txns = history.apply(txns, f"p{index}", amount, on)
    again = history.state(txns)
    assert replace(again, allocations={}) == replace(expected, allocations={})
    check_invariants(again, txns)
    if len({on for on, _ in history.asked}) == len(history.asked):
        # Distinct value dates: each repayment is even allocated the same way.
        def by_payment(state: LoanState, all_txns: tuple[Transaction, ...]) -> dict[str, object]:
            return {
                t.payment_id: state.allocations[t.id]
                for t in all_txns
                if t.type is TransactionType.REPAYMENT
            }

        assert by_payment(again, txns) == by_payment(expected, history.txns)


@settings(max_examples=300, deadline=None)
@given(histories(max_payments=4), st.data())
def test_apply_then_reverse_restores_the_state_exactly(
    history: History, data: st.DataObject
) -> None:
    before = history.state()
    span = (history.business - history.schedule.disbursement_date).days
    on = history.schedule.disbursement_date + timedelta(days=data.draw(st.integers(0, span)))
    payoff = quote_payoff(history.terms, history.schedule, history.txns, on).total
    if payoff == 0:
        return
    amount = data.draw(st.integers(1, payoff))
    try:
        txns = history.apply(history.txns, "new", amount, on)
    except FailedPrecondition as exc:
        # A backdated amount may be refused when later repayments cover the loan.
        if "overpay" not in str(exc):
            raise
        event("refused as an overpayment")
        return
    reversed_ = reverse_repayment(
        history.terms, history.schedule, txns, payment_id="new", reason="test",
        actor="admin", business_date=history.business,
    )
    assert reversed_.state == before


@settings(max_examples=300, deadline=None)
@given(histories(max_payments=4), st.data())
def test_paying_the_payoff_quote_always_closes(history: History, data: st.DataObject) -> None:
    last = max((on for on, _ in history.asked), default=history.schedule.disbursement_date)
    span = (history.business - last).days
    on = last + timedelta(days=data.draw(st.integers(0, span)))
    quote = quote_payoff(history.terms, history.schedule, history.txns, on)
    if quote.total == 0:
        assert history.state().closed
        return
    result = apply_repayment(
        history.terms, history.schedule, history.txns, payment_id="payoff",
        amount=quote.total, value_date=on, business_date=history.business,
    )
    assert result.closed
    assert result.state.total_outstanding == 0
    assert result.state.outstanding_principal == 0
    assert result.allocation.interest_waived == quote.interest_waived
    assert result.allocation.total == quote.total
    check_invariants(result.state, result.transactions)


@settings(max_examples=200, deadline=None)
@given(histories(max_payments=4), st.data())
def test_penalties_and_waivers_keep_the_books_consistent(
    history: History, data: st.DataObject
) -> None:
    n = history.schedule.installments
    span = (history.business - history.schedule.disbursement_date).days
    extra: list[Transaction] = []
    for index in range(data.draw(st.integers(1, 4))):
        on = history.schedule.disbursement_date + timedelta(days=data.draw(st.integers(0, span)))
        number = data.draw(st.integers(1, n))
        if data.draw(st.booleans()):
            extra.append(Transaction(f"X{index}", TransactionType.PENALTY, on,
                                     data.draw(st.integers(1, 5_000)), 100 + index,
                                     installment_number=number))
        else:
            penalty = data.draw(st.integers(0, 3_000))
            interest = data.draw(st.integers(0, 3_000))
            extra.append(Transaction(f"X{index}", TransactionType.WAIVER, on, penalty + interest,
                                     100 + index, installment_number=number,
                                     penalty_amount=penalty, interest_amount=interest))
    txns = (*history.txns, *extra)
    state = history.state(txns)
    for row in state.installments:
        assert 0 <= row.penalty_paid + row.penalty_waived <= row.penalty_due
        assert 0 <= row.interest_paid + row.interest_waived <= row.interest_due
        assert 0 <= row.principal_paid <= row.principal_due
    for txn in txns:
        if txn.type is TransactionType.REPAYMENT:
            allocation = state.allocations[txn.id]
            # Waivers may leave a later repayment with less to pay; nothing is lost.
            assert allocation.total + allocation.unallocated == txn.amount
    assert state.total_outstanding >= 0
    assert Decimal(state.total_paid) >= 0
    # Whatever the charges, the payoff quote is exactly payable and closes the loan.
    last = max(t.value_date for t in txns)
    quote = quote_payoff(history.terms, history.schedule, txns, last)
    if quote.total:
        payoff = Transaction("PAYOFF", TransactionType.REPAYMENT, last, quote.total, 10_000,
                             payment_id="payoff")
        closed = history.state((*txns, payoff))
        assert closed.allocations["PAYOFF"].unallocated == 0
        assert closed.closed


# ------------------------------------------------------------------ the loan summary


def check_summary(state: LoanState, scheduled: int) -> None:
    """Each summary figure has one meaning, whatever the history.

    ``scheduled`` is the total repayable under the schedule plus penalties charged: every
    unit of it is exactly one of still to pay, paid or waived.
    """
    rows = state.installments
    assert state.total_outstanding == (
        state.outstanding_principal
        + state.outstanding_interest
        + state.outstanding_fees
        + state.outstanding_penalties
    )
    assert state.total_paid == (
        state.principal_paid + state.interest_paid + state.fees_paid + state.penalties_paid
    )
    # "Due now" is the arrears: what is unpaid on installments due on or before the date.
    due_now = sum(row.unpaid for row in rows if row.due_date <= state.as_of)
    if state.written_off:
        assert state.total_outstanding == state.arrears_amount == 0
        return
    assert state.arrears_amount == due_now
    # Everything still to pay under the schedule, due yet or not.
    assert state.total_outstanding == sum(row.unpaid for row in rows)
    assert state.outstanding_interest == sum(row.interest_unpaid for row in rows)
    assert state.outstanding_principal == sum(row.principal_unpaid for row in rows)
    assert state.total_outstanding + state.total_paid + state.total_waived == scheduled
    assert 0 <= state.arrears_amount <= state.total_outstanding
    assert 0 <= state.next_due_amount <= state.total_outstanding


def scheduled_total(state: LoanState) -> int:
    return sum(row.total_due for row in state.installments)


@st.composite
def repayments(draw: st.DrawFn, history: History, count: int) -> list[tuple[date, str]]:
    """Value dates anywhere from disbursement to the business date (so some are backdated
    behind earlier ones) and the kind of amount to pay on each."""
    span = (history.business - history.schedule.disbursement_date).days
    # Mostly early in the loan: then much of the interest is not due yet.
    span = draw(st.sampled_from([span, span // 2, span // 4, span // 8]))
    kinds = ["partial", "partial", "installment", "prepayment", "payoff"]
    return [
        (
            history.schedule.disbursement_date + timedelta(days=draw(st.integers(0, span))),
            draw(st.sampled_from(kinds)),
        )
        for _ in range(count)
    ]


@settings(max_examples=300, deadline=None)
@given(histories(max_payments=4), st.data())
def test_each_repayment_lowers_total_outstanding_by_exactly_its_amount(
    history: History, data: st.DataObject
) -> None:
    plan = data.draw(repayments(history, data.draw(st.integers(1, 8))))
    # The business date: the latest repayment's date or a little later, often well before
    # maturity, so the summary is read while installments are still to come.
    latest = max(on for on, _ in plan)
    history.business = latest + timedelta(days=data.draw(st.integers(0, 10)))
    txns = tuple(t for t in history.txns if t.value_date <= history.business)
    state = history.state(txns)
    scheduled = scheduled_total(state)
    check_summary(state, scheduled)
    typical = max(history.schedule.total_repayable // max(history.schedule.installments, 1), 1)
    event("read before maturity" if history.business < history.schedule.maturity_date
          else "read after maturity")
    for index, (on, kind) in enumerate(plan):
        payoff = quote_payoff(history.terms, history.schedule, txns, on).total
        if payoff == 0:
            event("nothing left to pay on the date")
            continue
        wanted = {
            "partial": data.draw(st.integers(1, typical)),
            "installment": typical,
            "prepayment": data.draw(st.integers(typical, typical * 4)),
            "payoff": payoff,
        }[kind]
        amount = min(wanted, payoff)
        try:
            done = apply_repayment(
                history.terms, history.schedule, txns, payment_id=f"q{index}",
                amount=amount, value_date=on, business_date=history.business,
            )
        except FailedPrecondition as exc:
            # Backdated behind repayments that already cover the loan.
            if "overpay" not in str(exc) and "payoff" not in str(exc):
                raise
            event("refused: later repayments cover the loan")
            continue
        after = done.state
        check_summary(after, scheduled)
        if not after.closed:
            # Paying off today costs what is left, less the later interest it forgives.
            today = quote_payoff(history.terms, history.schedule, done.transactions,
                                 history.business)
            assert today.total + today.interest_waived == after.total_outstanding
        # The money went somewhere, all of it: paid goes up by exactly the amount.
        assert after.total_paid - state.total_paid == amount
        waived = after.total_waived - state.total_waived
        # Still to pay goes down by exactly the amount, plus any later interest that paying
        # off forgave (reported as interest_waived), and by nothing else.
        assert state.total_outstanding - after.total_outstanding == amount + waived
        if waived:
            event("closed early: later interest forgiven")
            assert after.closed
        else:
            assert state.total_outstanding - after.total_outstanding == amount
        if on >= max(t.value_date for t in txns):
            # Not backdated: the payoff quote for the date moves by the amount too.
            quote = quote_payoff(history.terms, history.schedule, done.transactions, on)
            assert payoff - quote.total == amount
        event(f"kind: {kind}{' (backdated)' if on < max(t.value_date for t in txns) else ''}")
        txns, state = done.transactions, after


def test_fifty_small_repayments_in_the_first_period_all_show_in_total_outstanding() -> None:
    """The probe's case: money paid before the first due date goes to that period's
    interest first, and the balance still falls by every cent of it."""
    terms = ProductTerms(
        currency="USD", principal_min=100, principal_max=10**9, installments_min=1,
        installments_max=520, frequency=RepaymentFrequency.WEEKLY,
        interest_method=InterestMethod.FLAT, amortization=Amortization.EQUAL_PRINCIPAL,
        annual_rate=Decimal("52"), principal_grace_installments=0, rounding_multiple_minor=1,
    ).validate()
    start = date(2026, 3, 2)
    schedule = generate_schedule(terms, 100_000, 4, start)
    txns: tuple[Transaction, ...] = (
        Transaction("D", TransactionType.DISBURSEMENT, start, 100_000, 1),
    )
    business = start + timedelta(days=3)
    first = replay(terms, schedule, txns, business)
    for index in range(50):
        txns = apply_repayment(
            terms, schedule, txns, payment_id=f"p{index}", amount=100 + index % 7,
            value_date=business, business_date=business,
        ).transactions
    last = replay(terms, schedule, txns, business)
    paid = sum(100 + index % 7 for index in range(50))
    assert last.total_paid == paid
    assert first.total_outstanding - last.total_outstanding == paid
    assert last.arrears_amount == 0  # nothing is due yet
    check_summary(last, scheduled_total(last))
