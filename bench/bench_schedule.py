"""Loan domain benchmark: schedule generation and replay speed on one core.

Run: python bench/bench_schedule.py [--seconds 1.0]

Prints figures only; it never asserts a speed (machines differ). The issue's
target is >= 10,000 12-installment schedules per second per core. Rates are
calls per CPU second of this process in its fastest run, so a busy machine
does not halve them.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from loan_service.domain.ledger import (
    Transaction,
    TransactionType,
    apply_repayment,
    replay,
)
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule, generate_schedule

START = date(2026, 1, 15)


def product(
    method: InterestMethod, amortization: Amortization, frequency: RepaymentFrequency
) -> ProductTerms:
    return ProductTerms(
        currency="USD",
        principal_min=1_000,
        principal_max=10**9,
        installments_min=1,
        installments_max=520,
        frequency=frequency,
        interest_method=method,
        amortization=amortization,
        annual_rate=Decimal("24.5"),
        fee=FeeTerms(ChargeType.PERCENT, percent=Decimal("2")),
        late_penalty=PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
    ).validate()


def rate(action: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Calls per CPU second, and CPU seconds per call, of the fastest of 7 runs of about
    ``seconds / 5`` each. CPU time of this process, not wall time, and the fastest run,
    as timeit does: on a shared machine other processes take turns on the core (and
    its caches), which only ever slows a run; the target is per core."""
    clock = time.process_time
    action()  # warm up
    batch = 1
    while True:
        began = clock()
        for _ in range(batch):
            action()
        took = clock() - began
        if took >= seconds / 5:
            break
        batch *= 2
    runs = []
    for _ in range(7):
        began = clock()
        for _ in range(batch):
            action()
        runs.append((clock() - began) / batch)
    per_call = min(runs)
    return 1 / per_call, per_call


def bench_schedules(seconds: float) -> None:
    print("schedules generated per second (one core, principal 1,234,567 minor units, 24.5%)")
    print(f"  {'method x amortization':<42}{'n=12':>12}{'n=52':>12}{'n=104':>12}")
    for method in InterestMethod:
        for amortization in Amortization:
            figures = []
            for n in (12, 52, 104):
                # Monthly for a year; weekly for the longer terms (as MFIs do).
                frequency = RepaymentFrequency.MONTHLY if n == 12 else RepaymentFrequency.WEEKLY
                terms = product(method, amortization, frequency)
                per_second, _ = rate(
                    functools.partial(generate_schedule, terms, 1_234_567, n, START), seconds
                )
                figures.append(per_second)
            label = f"{method.value} x {amortization.value}"
            print(f"  {label:<42}" + "".join(f"{f:>12,.0f}" for f in figures))


def history(terms: ProductTerms, schedule: Schedule) -> list[Transaction]:
    """200 transactions over a 104-week loan: repayments, penalties, waivers, reversals."""
    txns = [Transaction("T0", TransactionType.DISBURSEMENT, START, schedule.principal, 0)]
    half = schedule.rows[0].total // 2
    sequence = 1
    day = START
    repayments: list[Transaction] = []
    while len(txns) < 181:
        day += timedelta(days=3 if sequence % 2 else 4)
        txn = Transaction(f"T{sequence}", TransactionType.REPAYMENT, day, half, sequence,
                          payment_id=f"pay-{sequence}")
        txns.append(txn)
        repayments.append(txn)
        sequence += 1
    for k in range(10):
        row = schedule.rows[5 + 7 * k]
        txns.append(Transaction(f"T{sequence}", TransactionType.PENALTY,
                                row.due_date + timedelta(days=4), 250, sequence,
                                installment_number=row.number))
        sequence += 1
    for k in range(4):
        row = schedule.rows[5 + 7 * k]
        txns.append(Transaction(f"T{sequence}", TransactionType.WAIVER,
                                row.due_date + timedelta(days=6), 100, sequence,
                                installment_number=row.number, penalty_amount=100))
        sequence += 1
    for k in range(5):
        target = repayments[20 + 30 * k]
        txns.append(Transaction(f"T{sequence}", TransactionType.REVERSAL,
                                target.value_date + timedelta(days=2), target.amount, sequence,
                                payment_id=target.payment_id, reverses=target.id))
        sequence += 1
    assert len(txns) == 200, len(txns)
    return txns


def bench_replay(seconds: float) -> None:
    terms = product(
        InterestMethod.DECLINING_BALANCE, Amortization.EQUAL_INSTALLMENTS, RepaymentFrequency.WEEKLY
    )
    schedule = generate_schedule(terms, 5_000_000, 104, START)
    txns = history(terms, schedule)
    business = schedule.maturity_date + timedelta(days=30)
    state = replay(terms, schedule, txns, business)
    per_second, per_call = rate(lambda: replay(terms, schedule, txns, business), seconds)
    print()
    print("replay: 104 weekly installments, 200 transactions "
          "(180 repayments, 10 penalties, 4 waivers, 5 reversals, 1 disbursement)")
    print(f"  {per_call * 1e3:.3f} ms per replay ({per_second:,.0f} replays/s); "
          f"state: {state.installments_paid} installments paid, DPD {state.days_past_due}")
    last = max(t.value_date for t in txns)

    def apply() -> object:
        return apply_repayment(
            terms, schedule, txns, payment_id="bench", amount=1_000, value_date=last,
            business_date=business,
        )

    per_second, per_call = rate(apply, seconds)
    print(f"  apply_repayment on that loan (validate, payoff quote, replay): "
          f"{per_call * 1e3:.3f} ms ({per_second:,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; figures are per CPU second")
    bench_schedules(args.seconds)
    bench_replay(args.seconds)


if __name__ == "__main__":
    main()
