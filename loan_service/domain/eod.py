"""End of day, the pure part: which dates to close, and one loan as of one date.

``dates_to_close`` decides the business dates a run closes. Dates close in
order, one after another: the next one is the day after the last closed
date. Asking for the last closed date again is a no-op (nothing to close);
a future date is refused (InvalidArgument on ``date``); an earlier date or a
gap is refused (FailedPrecondition naming the last closed date) unless
``catch_up`` is set, which closes every missing date in order up to the one
asked for.

``evaluate_loan`` is the end of day of one loan on a date, built on the
ledger: it charges the late penalties that are due (``charge_late_penalties``:
once per installment, value-dated the day after the grace period, so a
repeated or late run adds nothing new), then reads the replayed state:

* overdue installments: unsettled with a due date before the date;
* DPD: the date minus the due date of the oldest of them (0 if none);
* arrears amount: what the overdue installments still owe, penalties included;
* the arrears bucket of the DPD (``shared.portfolio``), and its move from the
  previous date's bucket: ``loan.overdue`` whenever the loan is in arrears and
  its bucket differs from the previous one (worse, or better but still in
  arrears), ``loan.arrears_cleared`` when it was in arrears and is current
  now (paid up or paid off). A written-off loan publishes neither: its own
  ``loan.written_off`` says it left the book;
* the loan's snapshot row for the date.

Status as of the date comes from the replay, not from the stored record, so
catching up on an old date describes the loan as it was then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from loan_service.domain.ledger import (
    SYSTEM_ACTOR,
    InstallmentState,
    InstallmentStatus,
    LoanState,
    Transaction,
    TransactionType,
    charge_late_penalties,
    close_day,
)
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.products import ProductTerms
from loan_service.domain.schedule import Schedule
from shared.errors import FailedPrecondition, InvalidArgument
from shared.portfolio import ArrearsBucket, LoanSnapshot, bucket_for

_DAY = timedelta(days=1)


# ------------------------------------------------------------------ which dates to close


def dates_to_close(
    last_closed: date | None,
    requested: date | None,
    today: date,
    *,
    catch_up: bool = False,
) -> tuple[date, ...]:
    """The business dates to close, oldest first; empty when ``requested`` is already closed.

    ``requested`` defaults to ``today`` (the business date in the
    institution's time zone). With no date closed yet, the requested one is
    the first. ``catch_up`` closes each missing date from the day after the
    last closed one up to the requested date.
    """
    target = today if requested is None else requested
    if target > today:
        raise InvalidArgument.field(
            "date", f"{target.isoformat()} is in the future (today is {today.isoformat()})"
        )
    if last_closed is None:
        return (target,)
    if target == last_closed:
        return ()
    following = last_closed + _DAY
    if target < last_closed:
        raise FailedPrecondition(
            f"cannot close {target.isoformat()}: the last closed date is "
            f"{last_closed.isoformat()} and dates close in order; the next date to close is "
            f"{following.isoformat()}"
        )
    if target == following:
        return (target,)
    if not catch_up:
        missing = (target - following).days
        raise FailedPrecondition(
            f"cannot close {target.isoformat()}: the last closed date is "
            f"{last_closed.isoformat()}, so {following.isoformat()} must close first "
            f"({missing} date(s) missing); run a catch-up to close them in order"
        )
    return tuple(following + timedelta(days=k) for k in range((target - following).days + 1))


# ------------------------------------------------------------------ one loan on one date


class ArrearsEvent(StrEnum):
    OVERDUE = "loan.overdue"
    ARREARS_CLEARED = "loan.arrears_cleared"


@dataclass(frozen=True, slots=True)
class BucketChange:
    """The loan moved between arrears buckets since the previous closed date."""

    previous: ArrearsBucket
    current: ArrearsBucket
    event: ArrearsEvent

    @property
    def worsened(self) -> bool:
        return self.current.rank > self.previous.rank


@dataclass(frozen=True, slots=True)
class LoanRefs:
    """Who and what a loan belongs to, as stored on the loan record."""

    loan_id: str
    borrower_id: str
    agent_id: str
    branch_id: str
    product_id: str


@dataclass(frozen=True, slots=True)
class LoanEvaluation:
    business_date: date
    # PENALTY transactions to record (value-dated after each grace period; may be empty).
    penalties: tuple[Transaction, ...]
    # The loan's transactions with those penalties appended.
    transactions: tuple[Transaction, ...]
    # The replayed state as of the date, penalties included.
    state: LoanState
    status: LoanStatus
    overdue: tuple[InstallmentState, ...]
    days_past_due: int
    arrears_amount: int
    bucket: ArrearsBucket
    # None when the bucket did not change (or the loan was written off).
    change: BucketChange | None
    snapshot: LoanSnapshot


def bucket_change(
    previous: ArrearsBucket | None, current: ArrearsBucket
) -> BucketChange | None:
    """The event a move from ``previous`` (None: never evaluated, i.e. current) calls for."""
    before = ArrearsBucket.CURRENT if previous is None else previous
    if current is before:
        return None
    if current.in_arrears:
        return BucketChange(before, current, ArrearsEvent.OVERDUE)
    return BucketChange(before, current, ArrearsEvent.ARREARS_CLEARED)


def _due_by(state: LoanState, business_date: date) -> tuple[list[InstallmentState], int, int]:
    """The overdue installments, their unpaid total, and the interest due and unpaid."""
    overdue: list[InstallmentState] = []
    arrears = receivable = 0
    # Rows are in due-date order; stop at the first one not yet due.
    for row in state.installments:
        if row.due_date > business_date:
            break
        receivable += row.interest_due - row.interest_paid - row.interest_waived
        if row.status is InstallmentStatus.OVERDUE:
            overdue.append(row)
            arrears += row.unpaid
    return overdue, arrears, receivable


def _check_disbursed(
    schedule: Schedule, transactions: Sequence[Transaction], business_date: date, refs: LoanRefs
) -> None:
    """A loan's end of day needs its disbursement, on or before the date."""
    if business_date < schedule.disbursement_date:
        raise InvalidArgument.field(
            "date",
            f"{business_date.isoformat()} is before the loan's disbursement on "
            f"{schedule.disbursement_date.isoformat()}",
        )
    if not any(t.type is TransactionType.DISBURSEMENT for t in transactions):
        raise FailedPrecondition(f"loan {refs.loan_id} has not been disbursed")


def evaluate_loan(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
    refs: LoanRefs,
    *,
    previous_bucket: ArrearsBucket | None = None,
    actor: str = SYSTEM_ACTOR,
    created_at: datetime | None = None,
) -> LoanEvaluation:
    """End of day of one disbursed loan as of ``business_date`` (see the module docstring).

    ``previous_bucket`` is the bucket recorded for the loan on the previous
    closed date (None if it has none). Pure: the caller records the
    penalties, the snapshot and the event.
    """
    _check_disbursed(schedule, transactions, business_date, refs)
    charged = charge_late_penalties(
        terms, schedule, transactions, business_date, actor=actor, created_at=created_at
    )
    state = charged.state
    if state.written_off:
        status = LoanStatus.WRITTEN_OFF
        overdue: list[InstallmentState] = []
        arrears = receivable = 0
    else:
        status = LoanStatus.CLOSED if state.closed else LoanStatus.ACTIVE
        overdue, arrears, receivable = _due_by(state, business_date)
    # The ledger's DPD: the date minus the due date of the oldest overdue installment.
    dpd = 0 if status is LoanStatus.WRITTEN_OFF else state.days_past_due
    bucket = bucket_for(dpd)
    change = (
        None if status is LoanStatus.WRITTEN_OFF else bucket_change(previous_bucket, bucket)
    )
    snapshot = LoanSnapshot(
        business_date=business_date,
        loan_id=refs.loan_id,
        borrower_id=refs.borrower_id,
        agent_id=refs.agent_id,
        branch_id=refs.branch_id,
        product_id=refs.product_id,
        currency=state.currency,
        status=status.value,
        outstanding_principal=state.outstanding_principal,
        outstanding_interest=receivable,
        outstanding_fees=state.outstanding_fees,
        outstanding_penalties=state.outstanding_penalties,
        arrears_amount=arrears,
        days_past_due=dpd,
        bucket=bucket,
        installments_overdue=len(overdue),
    )
    return LoanEvaluation(
        business_date=business_date,
        penalties=charged.charged,
        transactions=charged.transactions,
        state=state,
        status=status,
        overdue=tuple(overdue),
        days_past_due=dpd,
        arrears_amount=arrears,
        bucket=bucket,
        change=change,
        snapshot=snapshot,
    )


class LoanClose(NamedTuple):
    """``close_loan``: what end of day writes and publishes of one loan on one date.
    A NamedTuple: the job builds one per loan and date."""

    business_date: date
    penalties: tuple[Transaction, ...]
    transactions: tuple[Transaction, ...]
    status: LoanStatus
    days_past_due: int
    arrears_amount: int
    installments_overdue: int
    bucket: ArrearsBucket
    change: BucketChange | None
    snapshot: LoanSnapshot
    # Whether the loan has a snapshot row on the date (``in_book``).
    in_book: bool


def close_loan(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
    refs: LoanRefs,
    *,
    previous_bucket: ArrearsBucket | None = None,
    actor: str = SYSTEM_ACTOR,
    created_at: datetime | None = None,
) -> LoanClose:
    """``evaluate_loan`` as the end-of-day job runs it: the same penalties, snapshot, bucket
    and event, from ``ledger.close_day`` (no ``LoanState``, no installment objects, no
    allocations). tests/unit/test_eod.py compares the two over generated portfolios."""
    _check_disbursed(schedule, transactions, business_date, refs)
    charged, updated, a = close_day(
        terms, schedule, transactions, business_date, actor=actor, created_at=created_at
    )
    if a.written_off_date is not None:
        status = LoanStatus.WRITTEN_OFF
        bucket = ArrearsBucket.CURRENT
        change = None
        book = a.written_off_date >= business_date
    else:
        if a.closed:
            status = LoanStatus.CLOSED
            book = a.closed_date is None or a.closed_date >= business_date
        else:
            status = LoanStatus.ACTIVE
            book = True
        bucket = bucket_for(a.days_past_due)
        change = bucket_change(previous_bucket, bucket)
    snapshot = LoanSnapshot(
        business_date,
        refs.loan_id,
        refs.borrower_id,
        refs.agent_id,
        refs.branch_id,
        refs.product_id,
        schedule.currency,
        status.value,
        a.outstanding_principal,
        a.interest_receivable,
        a.outstanding_fees,
        a.outstanding_penalties,
        a.overdue_amount,
        a.days_past_due,
        bucket,
        a.installments_overdue,
    )
    return LoanClose(
        business_date, charged, updated, status, a.days_past_due, a.overdue_amount,
        a.installments_overdue, bucket, change, snapshot, book,
    )


def rederive_from(
    before: Sequence[Transaction], after: Sequence[Transaction]
) -> date | None:
    """The earliest business date a change to a loan's transactions can alter, or None.

    A new entry alters the loan from its value date on; a reversal from the value
    date of the payment it undoes. End of day re-derives the loan's snapshot rows
    of closed dates from there (docs/design.md: End of day and reports).
    """
    known = {t.id for t in before}
    by_id = {t.id: t for t in after}
    dates: list[date] = []
    for txn in after:
        if txn.id in known:
            continue
        dates.append(txn.value_date)
        target = by_id.get(txn.reverses) if txn.reverses else None
        if target is not None:
            dates.append(target.value_date)
    return min(dates) if dates else None


def in_book(status: LoanStatus, state: LoanState, business_date: date) -> bool:
    """Whether a loan has a snapshot row on the date: ACTIVE then, or it left the book
    that very day (closed or written off on it), so the date shows it leaving."""
    if status is LoanStatus.ACTIVE:
        return True
    if status is LoanStatus.CLOSED:
        return state.closed_date is None or state.closed_date >= business_date
    return state.written_off_date is None or state.written_off_date >= business_date


# A scheduled time before noon runs after midnight, for the day that just ended.
NOON = time(12, 0)


def scheduled_date(local_now: datetime, at: time) -> date:
    """The latest business date whose scheduled end of day (at local time ``at``) is due
    by ``local_now`` (a local wall-clock time in the business time zone).

    A time from noon on (``23:30``) closes the date it falls on: date D's run is due at
    D ``at``. A time before noon (``00:30``, ``02:00``) runs after midnight and closes the
    day that just ended: date D's run is due at D+1 ``at``. Before today's run is due,
    the latest due one is the day before's, so a worker that was down at the set time
    closes that date as soon as it is up again (its catch-up closes any earlier gap).
    """
    today = local_now.date()
    ran_today = (local_now.hour, local_now.minute) >= (at.hour, at.minute)
    latest = today if ran_today else today - _DAY
    return latest - _DAY if at < NOON else latest


__all__ = [
    "NOON",
    "ArrearsEvent",
    "BucketChange",
    "LoanClose",
    "LoanEvaluation",
    "LoanRefs",
    "bucket_change",
    "close_loan",
    "dates_to_close",
    "evaluate_loan",
    "in_book",
    "rederive_from",
    "scheduled_date",
]
