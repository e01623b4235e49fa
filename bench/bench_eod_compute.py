"""End-of-day compute benchmark: replay, DPD and penalties over N loans, no database.

Run: python bench/bench_eod_compute.py [--loans 20000] [--seed 7]

Generates a portfolio in memory (weekly, bi-weekly and monthly products,
loans disbursed over the past year, repayments mostly on time, some late,
some stopped, a few written off), then times ``close_loan`` (what the
end-of-day job runs: ``evaluate_loan``'s results without building the whole
``LoanState``) over every loan for one business date, twice:

* first run: the penalties of every late installment are still to charge
  (what a first end of day over an old portfolio does);
* steady state: the same date again with those penalties recorded (what a
  daily run does: most penalties were charged on earlier dates).

Then the steady state once more with ``evaluate_loan`` (the reference path,
the full state), for comparison. Rates are loans per CPU second of this one
process (process time, so other processes sharing the machine do not halve
them); the issue's goal is 20,000 loans/s per core. Prints figures only; it
never asserts a speed.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from loan_service.domain.eod import LoanClose, LoanEvaluation, LoanRefs, close_loan, evaluate_loan
from loan_service.domain.ledger import Transaction, TransactionType
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
from shared.portfolio import LoanSnapshot

BUSINESS_DATE = date(2026, 12, 1)


def _product(
    frequency: RepaymentFrequency, method: InterestMethod, penalty: PenaltyTerms
) -> ProductTerms:
    return ProductTerms(
        currency="KES",
        principal_min=1_000_00,
        principal_max=10_000_000_00,
        installments_min=1,
        installments_max=104,
        frequency=frequency,
        interest_method=method,
        amortization=Amortization.EQUAL_INSTALLMENTS,
        annual_rate=Decimal("24"),
        fee=FeeTerms(ChargeType.PERCENT, percent=Decimal("2")),
        late_penalty=penalty,
    ).validate()


PRODUCTS: tuple[tuple[ProductTerms, int], ...] = (
    (
        _product(
            RepaymentFrequency.WEEKLY,
            InterestMethod.FLAT,
            PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=200_00, grace_days=2),
        ),
        16,
    ),
    (
        _product(
            RepaymentFrequency.BIWEEKLY,
            InterestMethod.DECLINING_BALANCE,
            PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
        ),
        12,
    ),
    (
        _product(
            RepaymentFrequency.MONTHLY,
            InterestMethod.DECLINING_BALANCE,
            PenaltyTerms(ChargeType.PERCENT, percent=Decimal("2.5"), grace_days=5),
        ),
        12,
    ),
)


@dataclass
class GeneratedLoan:
    terms: ProductTerms
    schedule: Schedule
    transactions: tuple[Transaction, ...]
    refs: LoanRefs


def generate(count: int, seed: int) -> list[GeneratedLoan]:
    """Loans with plain repayment histories (each payment is one installment's amount)."""
    rng = random.Random(seed)
    schedules: dict[tuple[int, int, date], Schedule] = {}
    loans: list[GeneratedLoan] = []
    for k in range(count):
        index = rng.randrange(len(PRODUCTS))
        terms, n = PRODUCTS[index]
        principal = rng.choice((5_000_00, 10_000_00, 25_000_00, 50_000_00))
        start = BUSINESS_DATE - timedelta(days=rng.randrange(1, 365))
        key = (index, principal, start)
        schedule = schedules.get(key)
        if schedule is None:
            schedule = schedules[key] = generate_schedule(terms, principal, n, start)
        behaviour = rng.random()
        txns = [Transaction(f"D{k}", TransactionType.DISBURSEMENT, start, principal, 1)]
        sequence = 2
        stop = n if behaviour < 0.80 else rng.randrange(n)  # 20% stop paying at some point
        for row in schedule.rows[:stop]:
            # 70% on the due date, the rest 1-40 days late.
            late = 0 if rng.random() < 0.7 else rng.randrange(1, 41)
            on = row.due_date + timedelta(days=late)
            if on > BUSINESS_DATE:
                break
            txns.append(
                Transaction(
                    f"R{k}-{sequence}",
                    TransactionType.REPAYMENT,
                    on,
                    row.total,
                    sequence,
                    payment_id=f"p{k}-{sequence}",
                )
            )
            sequence += 1
        if behaviour > 0.99:
            last = max(t.value_date for t in txns)
            txns.append(
                Transaction(f"W{k}", TransactionType.WRITE_OFF, last, 0, sequence)
            )
        refs = LoanRefs(f"L{k}", f"B{k}", f"A{k % 50}", f"BR{k % 5}", f"P{index}")
        loans.append(GeneratedLoan(terms, schedule, tuple(txns), refs))
    return loans


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an end of day keeps of one loan's evaluation: what it writes and publishes."""

    penalties: tuple[Transaction, ...]
    transactions: tuple[Transaction, ...]
    snapshot: LoanSnapshot
    event: str


def _outcome(e: LoanClose | LoanEvaluation) -> Outcome:
    event = "" if e.change is None else e.change.event.value
    return Outcome(e.penalties, e.transactions, e.snapshot, event)


Evaluate = Callable[..., LoanClose | LoanEvaluation]


def run(
    loans: list[GeneratedLoan], on: date, evaluate: Evaluate = close_loan
) -> tuple[float, list[Outcome]]:
    """CPU seconds to evaluate every loan. Only the outcome of each is kept, as the end of
    day does (it writes a batch and drops it): holding 20,000 full replayed states
    would mostly time the garbage collector walking them. For the same reason what the
    process already holds (the loans given, and in bench_eod.py everything demo-data
    built in it) is frozen out of the collector while timing: the job holds one batch."""
    clock = time.process_time
    gc.collect()
    gc.freeze()
    try:
        began = clock()
        results = [
            _outcome(evaluate(g.terms, g.schedule, g.transactions, on, g.refs)) for g in loans
        ]
        return clock() - began, results
    finally:
        gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=20_000, help="loans to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="steady-state runs (best is kept)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; figures are per CPU second")
    made = time.perf_counter()
    loans = generate(args.loans, args.seed)
    print(f"generated {len(loans):,} loans in {time.perf_counter() - made:.1f} s")

    took, first = run(loans, BUSINESS_DATE)
    charged = sum(len(e.penalties) for e in first)
    print(
        f"first run  ({charged:,} penalties to charge): {took:.2f} s CPU, "
        f"{len(loans) / took:,.0f} loans/s"
    )
    for g, e in zip(loans, first, strict=True):
        g.transactions = e.transactions
    best = float("inf")
    again: list[Outcome] = []
    for _ in range(max(1, args.repeat)):
        took, again = run(loans, BUSINESS_DATE)
        best = min(best, took)
    assert not any(e.penalties for e in again), "a second evaluation charged a penalty"
    print(f"steady state (no new penalties):  {best:.2f} s CPU, {len(loans) / best:,.0f} loans/s")
    took, reference = run(loans, BUSINESS_DATE, evaluate_loan)
    assert reference == again, "the reference path disagrees with close_loan"
    print(f"steady state, reference path (evaluate_loan, full LoanState): {took:.2f} s CPU, "
          f"{len(loans) / took:,.0f} loans/s")
    buckets = Counter(e.snapshot.bucket.value for e in again)
    statuses = Counter(e.snapshot.status for e in again)
    print("statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())))
    print("buckets:  " + ", ".join(f"{k} {v:,}" for k, v in sorted(buckets.items())))


if __name__ == "__main__":
    main()
