"""Transactions, allocation and replay: a loan's state is a pure function.

``replay(terms, schedule, transactions, business_date)`` applies the
transactions with a value date on or before the business date, in (value
date, sequence) order, over the frozen schedule. A REVERSAL in that set
removes its target completely (the loan is replayed without it), so a
backdated repayment or a reversal is just another replay.

Allocation of a repayment with value date d (docs/design.md: Allocation):

* The installments due on or before d, plus the installment of the current
  period (the one whose period (previous due date, due date] contains d),
  are paid oldest first, each in the order penalty, fee, interest, principal.
* Money beyond that is a prepayment: it pays the principal of the later
  installments in order (and any penalty or fee on them). Their interest is
  not earned yet and is not taken; it stays due on their due dates.
* When all principal is paid and everything chargeable at d is settled, the
  interest of the later installments is forgiven: it is recorded as
  ``interest_waived`` on the repayment's allocation and on the rows, and
  the loan is closed.

Hence the payoff quote for d (what closes the loan on d) is the outstanding
principal + unpaid interest of installments due on or before d + the unpaid
interest of the current period + unpaid fees and penalties, and it is also
the most a repayment on d can allocate. ``apply_repayment`` refuses more.

Write-off: at its value date the outstanding principal, the unpaid interest
of installments due by then, and unpaid fees and penalties are recorded as
written off; the rows freeze as of that date. Payments with a later value
date are recoveries (``Allocation.recovery``), at most the written-off
amount. Penalties and waivers after a write-off have no effect.

Row status as of the business date: PAID when settled; WAIVED when settled
with some scheduled interest forgiven (a waiver or an early payoff); OVERDUE
when unsettled and its due date has passed; PARTIAL when something was paid
or waived; PENDING otherwise. Days past due is the business date minus the
due date of the oldest unsettled installment already past due (0 if none).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import NamedTuple

from loan_service.domain.products import ProductTerms
from loan_service.domain.schedule import Schedule, ScheduleRow, generate_schedule
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from shared.money import Money


class TransactionType(StrEnum):
    DISBURSEMENT = "DISBURSEMENT"
    REPAYMENT = "REPAYMENT"
    REVERSAL = "REVERSAL"
    PENALTY = "PENALTY"
    WAIVER = "WAIVER"
    WRITE_OFF = "WRITE_OFF"
    RECOVERY = "RECOVERY"


class InstallmentStatus(StrEnum):
    PENDING = "PENDING"
    PARTIAL = "PARTIAL"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    WAIVED = "WAIVED"


_PAYMENTS = frozenset({TransactionType.REPAYMENT, TransactionType.RECOVERY})
SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ledger entry. Amounts are minor units of the loan currency."""

    id: str
    type: TransactionType
    value_date: date
    amount: int
    # Monotonic per loan; ties on value_date replay in this order.
    sequence: int
    # REPAYMENT/RECOVERY/REVERSAL: the payment_service payment id.
    payment_id: str = ""
    # REVERSAL: id of the transaction it cancels.
    reverses: str = ""
    # PENALTY/WAIVER: the installment concerned (1-based).
    installment_number: int = 0
    # WAIVER: how the amount splits.
    penalty_amount: int = 0
    interest_amount: int = 0
    reason: str = ""
    actor: str = ""
    channel: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstallmentAllocation:
    installment_number: int
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal


class Allocation(NamedTuple):
    """What a repayment (or a waiver: the amounts waived) was spent on.

    A NamedTuple: replay builds one per payment, every time it runs."""

    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0
    # Money received after the write-off.
    recovery: int = 0
    # Future interest forgiven because this transaction closed the loan early.
    interest_waived: int = 0
    # Money there was nothing left to pay (only in replays of inconsistent input).
    unallocated: int = 0
    installments: tuple[InstallmentAllocation, ...] = ()

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal + self.recovery


class InstallmentState(NamedTuple):
    """One installment as of a date. A NamedTuple like ``ScheduleRow``: replay builds
    one per row each time, and a tuple is several times cheaper to build than a
    frozen dataclass."""

    number: int
    due_date: date
    principal_due: int
    interest_due: int
    fee_due: int
    penalty_due: int
    principal_paid: int
    interest_paid: int
    fee_paid: int
    penalty_paid: int
    interest_waived: int
    penalty_waived: int
    # Scheduled principal balance after this row.
    outstanding_principal_after: int
    status: InstallmentStatus
    # Value date of the transaction that settled the row.
    paid_date: date | None
    days_past_due: int

    @property
    def total_due(self) -> int:
        return self.principal_due + self.interest_due + self.fee_due + self.penalty_due

    @property
    def total_paid(self) -> int:
        return self.principal_paid + self.interest_paid + self.fee_paid + self.penalty_paid

    @property
    def total_waived(self) -> int:
        return self.interest_waived + self.penalty_waived

    @property
    def principal_unpaid(self) -> int:
        return self.principal_due - self.principal_paid

    @property
    def interest_unpaid(self) -> int:
        return self.interest_due - self.interest_paid - self.interest_waived

    @property
    def fee_unpaid(self) -> int:
        return self.fee_due - self.fee_paid

    @property
    def penalty_unpaid(self) -> int:
        return self.penalty_due - self.penalty_paid - self.penalty_waived

    @property
    def unpaid(self) -> int:
        return self.total_due - self.total_paid - self.total_waived


_new_installment = InstallmentState._make
# What a replay without allocation records (``_Book(record=False)``) returns for each.
_UNRECORDED = Allocation()


@dataclass(frozen=True, slots=True)
class LoanState:
    """The loan as of ``as_of``. Amounts are minor units of ``currency``."""

    currency: str
    as_of: date
    disbursement_date: date
    installments: tuple[InstallmentState, ...]
    # Everything still to pay under the schedule, whether due yet or not (0 once written off);
    # total_outstanding is their sum. A repayment of X lowers it by exactly X, plus any later
    # interest the same repayment forgave by paying off early (its allocation's interest_waived).
    outstanding_principal: int
    outstanding_interest: int
    outstanding_fees: int
    outstanding_penalties: int
    total_outstanding: int
    # Repayments allocated to installments (recoveries are separate).
    total_paid: int
    principal_paid: int
    interest_paid: int
    fees_paid: int
    penalties_paid: int
    total_waived: int
    days_past_due: int
    # Unpaid amount of installments due on or before as_of.
    arrears_amount: int
    # First unsettled installment due on or after as_of, and what it still owes.
    next_due_date: date | None
    next_due_amount: int
    installments_paid: int
    installments_overdue: int
    closed: bool
    closed_date: date | None
    written_off: bool
    written_off_date: date | None
    written_off_amount: int
    recovered_amount: int
    # Transaction id -> allocation, for every effective repayment, recovery and waiver.
    allocations: Mapping[str, Allocation] = field(default_factory=dict)

    def money(self, amount_minor: int) -> Money:
        return Money(amount_minor, self.currency)

    @property
    def recoverable(self) -> int:
        """Written-off amount not yet recovered."""
        return self.written_off_amount - self.recovered_amount


class ArrearsSummary(NamedTuple):
    """A loan's arrears as of a date (``close_day``): the ``LoanState`` figures end of day
    reads, built without the state. A written-off loan has every amount 0 here."""

    closed: bool
    closed_date: date | None
    written_off_date: date | None
    outstanding_principal: int
    # Unpaid interest of the installments due on or before the date.
    interest_receivable: int
    outstanding_fees: int
    outstanding_penalties: int
    # Installments past due (due before the date, unsettled): what they owe, how many,
    # and the days since the oldest one's due date.
    overdue_amount: int
    installments_overdue: int
    days_past_due: int

    @property
    def written_off(self) -> bool:
        return self.written_off_date is not None


@dataclass(frozen=True, slots=True)
class PayoffQuote:
    date: date
    currency: str
    principal: int
    # Unpaid interest due on or before the date plus the current period's.
    interest: int
    fees: int
    penalties: int
    total: int
    # Interest of later periods that paying ``total`` forgives.
    interest_waived: int


# ------------------------------------------------------------------ replay engine


def _chargeable_count(dues: Sequence[date], start: date, on: date) -> int:
    """How many installments are chargeable in full on ``on``.

    Those due on or before the date, plus the current period's one: the
    first installment due after the date, when the date is inside its
    period (previous due date or disbursement, its due date].
    """
    count = bisect_right(dues, on)
    if count < len(dues):
        period_start = dues[count - 1] if count else start
        if period_start < on:
            count += 1
    return count


class _Book:
    """Mutable per-installment ledgers used only inside ``replay``.

    ``record``: keep each payment's and waiver's ``Allocation`` (a ``LoanState``
    shows them). End of day does not read them, so it replays without (same
    arithmetic, no per-installment allocation objects)."""

    def __init__(self, schedule: Schedule, record: bool = True) -> None:
        self.record = record
        rows = schedule.rows
        self.n = len(rows)
        self.start = schedule.disbursement_date
        if rows:
            # ScheduleRow is a NamedTuple: transpose it into one list per column.
            _, dues, p_due, i_due, f_due, n_due, _ = zip(*rows, strict=True)
        else:
            dues = p_due = i_due = f_due = n_due = ()
        self.dues: list[date] = list(dues)
        self.p_due: list[int] = list(p_due)
        self.i_due: list[int] = list(i_due)
        self.f_due: list[int] = list(f_due)
        self.n_due: list[int] = list(n_due)
        zeros = [0] * self.n
        self.p_paid = zeros.copy()
        self.i_paid = zeros.copy()
        self.f_paid = zeros.copy()
        self.n_paid = zeros.copy()
        self.i_waived = zeros.copy()
        self.n_waived = zeros
        self.paid_date: list[date | None] = [None] * self.n
        self.principal_left = sum(self.p_due)
        # Everything scheduled: the sum of the rows' totals.
        self.unpaid = self.principal_left + sum(self.i_due) + sum(self.f_due) + sum(self.n_due)
        # Lowest row that may still owe anything / principal / a penalty or fee.
        self.first_open = 0
        self.first_principal = 0
        self.first_charge = 0
        self.closed_on: date | None = None
        self.written_off_on: date | None = None
        self.written_off_amount = 0
        self.recovered = 0
        self.allocations: dict[str, Allocation] = {}
        self._advance()

    def _row_unpaid(self, i: int) -> int:
        return (
            self.p_due[i]
            - self.p_paid[i]
            + self.i_due[i]
            - self.i_paid[i]
            - self.i_waived[i]
            + self.f_due[i]
            - self.f_paid[i]
            + self.n_due[i]
            - self.n_paid[i]
            - self.n_waived[i]
        )

    def run(self, transactions: Iterable[Transaction]) -> None:
        """Apply transactions already in replay order (``effective_transactions``)."""
        record = self.record
        allocations = self.allocations
        for txn in transactions:
            kind = txn.type
            if kind in _PAYMENTS:
                allocation = self.pay(txn.value_date, txn.amount)
                if record:
                    allocations[txn.id] = allocation
            elif kind is TransactionType.PENALTY:
                self.penalty(txn.value_date, txn.installment_number, txn.amount)
            elif kind is TransactionType.WAIVER:
                allocation = self.waive(
                    txn.value_date, txn.installment_number, txn.penalty_amount, txn.interest_amount
                )
                if record:
                    allocations[txn.id] = allocation
            elif kind is TransactionType.WRITE_OFF:
                self.write_off(txn.value_date)
            # DISBURSEMENT: the schedule already starts from it.

    def settled_by(self, i: int, day: date) -> bool:
        """Row i is settled, and was by ``day``."""
        settled_on = self.paid_date[i]
        return settled_on is not None and settled_on <= day and self._row_unpaid(i) == 0

    # -- repayments -------------------------------------------------------------
    # long: the innermost loops of every replay, written out: a call per row or per step
    # would cost more than the arithmetic it runs
    def pay(self, on: date, amount: int) -> Allocation:
        if self.written_off_on is not None:
            taken = min(amount, self.written_off_amount - self.recovered)
            self.recovered += taken
            return Allocation(recovery=taken, unallocated=amount - taken)
        left = amount
        parts: list[InstallmentAllocation] = []
        tot_pen = tot_fee = tot_int = tot_prin = 0
        p_due, p_paid = self.p_due, self.p_paid
        i_due, i_paid, i_waived = self.i_due, self.i_paid, self.i_waived
        f_due, f_paid = self.f_due, self.f_paid
        n_due, n_paid, n_waived = self.n_due, self.n_paid, self.n_waived
        paid_date = self.paid_date
        # _chargeable_count(self.dues, self.start, on), written out.
        dues = self.dues
        full = bisect_right(dues, on)
        if full < self.n and (dues[full - 1] if full else self.start) < on:
            full += 1
        i = self.first_open
        record = self.record
        # The innermost loop of every replay, written out. A row the money covers whole
        # is paid in full and settled; otherwise each share in turn is min(left, what
        # the row still owes of it) and the row stays open.
        while i < full and left:
            pen = n_due[i] - n_paid[i] - n_waived[i]
            fee = f_due[i] - f_paid[i]
            intr = i_due[i] - i_paid[i] - i_waived[i]
            prin = p_due[i] - p_paid[i]
            owed = pen + fee + intr + prin
            if not owed:
                i += 1
                continue
            if owed <= left:
                left -= owed
                if paid_date[i] is None:
                    paid_date[i] = on
            else:
                if pen > left:
                    pen = left
                left -= pen
                if fee > left:
                    fee = left
                left -= fee
                if intr > left:
                    intr = left
                left -= intr
                prin = left  # less than the principal owed: the rest of the money
                left = 0
            n_paid[i] += pen
            f_paid[i] += fee
            i_paid[i] += intr
            p_paid[i] += prin
            tot_pen += pen
            tot_fee += fee
            tot_int += intr
            tot_prin += prin
            if record:
                parts.append(InstallmentAllocation(i + 1, pen, fee, intr, prin))
            i += 1
        # Prepayment: principal of later installments, in order; their interest is not earned.
        n = self.n
        i = max(full, self._first_prepayable()) if left and full < n else n
        while i < n and left:
            owed = n_due[i] - n_paid[i] - n_waived[i]
            pen = owed if owed < left else left
            left -= pen
            owed = f_due[i] - f_paid[i]
            fee = owed if owed < left else left
            left -= fee
            owed = p_due[i] - p_paid[i]
            prin = owed if owed < left else left
            left -= prin
            if pen or fee or prin:
                n_paid[i] += pen
                f_paid[i] += fee
                p_paid[i] += prin
                tot_pen += pen
                tot_fee += fee
                tot_prin += prin
                if record:
                    parts.append(InstallmentAllocation(i + 1, pen, fee, 0, prin))
                if paid_date[i] is None and self._row_unpaid(i) == 0:
                    paid_date[i] = on
            i += 1
        self.unpaid -= amount - left
        self.principal_left -= tot_prin
        # _advance(), written out: move first_open past the rows settled now.
        i = self.first_open
        while i < n and (
            p_due[i] - p_paid[i] + i_due[i] - i_paid[i] - i_waived[i] + f_due[i] - f_paid[i]
            + n_due[i] - n_paid[i] - n_waived[i]
        ) == 0:
            i += 1
        self.first_open = i
        # Only a loan with no principal left, or nothing left at all, can close now.
        waived = (
            self._close_if_paid_off(on) if not self.principal_left or not self.unpaid else 0
        )
        if not record:
            return _UNRECORDED
        return Allocation(tot_pen, tot_fee, tot_int, tot_prin, 0, waived, left, tuple(parts))

    def _advance(self) -> None:
        """Move ``first_open`` past the settled rows (after every payment and waiver)."""
        n = self.n
        p_due, p_paid = self.p_due, self.p_paid
        f_due, f_paid = self.f_due, self.f_paid
        n_due, n_paid, n_waived = self.n_due, self.n_paid, self.n_waived
        i_due, i_paid, i_waived = self.i_due, self.i_paid, self.i_waived
        i = self.first_open
        # _row_unpaid(i) == 0, written out.
        while i < n and (
            p_due[i] - p_paid[i] + i_due[i] - i_paid[i] - i_waived[i] + f_due[i] - f_paid[i]
            + n_due[i] - n_paid[i] - n_waived[i]
        ) == 0:
            i += 1
        self.first_open = i

    def _first_prepayable(self) -> int:
        """The lowest row that may still owe principal, a fee or a penalty. Moved forward
        only when a prepayment needs it: paid principal and fees only grow, and a new
        penalty moves ``first_charge`` back itself."""
        n = self.n
        p_due, p_paid = self.p_due, self.p_paid
        f_due, f_paid = self.f_due, self.f_paid
        n_due, n_paid, n_waived = self.n_due, self.n_paid, self.n_waived
        i = self.first_principal
        while i < n and p_paid[i] == p_due[i]:
            i += 1
        self.first_principal = i
        j = self.first_charge
        while j < n and f_paid[j] == f_due[j] and n_paid[j] + n_waived[j] == n_due[j]:
            j += 1
        self.first_charge = j
        return min(i, j)

    def _close_if_paid_off(self, on: date) -> int:
        """All principal paid and nothing chargeable owed: forgive later interest, close."""
        waived = 0
        if self.principal_left == 0 and self.unpaid > 0:
            full = _chargeable_count(self.dues, self.start, on)
            if all(self._row_unpaid(i) == 0 for i in range(self.first_open, full)):
                for i in range(full, self.n):
                    rest = self.i_due[i] - self.i_paid[i] - self.i_waived[i]
                    if rest:
                        self.i_waived[i] += rest
                        waived += rest
                        if self.paid_date[i] is None and self._row_unpaid(i) == 0:
                            self.paid_date[i] = on
                self.unpaid -= waived
                self._advance()
        if self.unpaid == 0 and self.closed_on is None:
            self.closed_on = on
        return waived

    # -- charges and waivers ---------------------------------------------------------
    def penalty(self, on: date, number: int, amount: int) -> None:
        i = number - 1
        if self.written_off_on is not None or not 0 <= i < self.n or amount <= 0:
            return
        self.n_due[i] += amount
        self.unpaid += amount
        self.paid_date[i] = None
        self.closed_on = None
        self.first_open = min(self.first_open, i)
        self.first_charge = min(self.first_charge, i)

    def waive(self, on: date, number: int, penalty: int, interest: int) -> Allocation:
        i = number - 1
        if self.written_off_on is not None or not 0 <= i < self.n:
            return Allocation()
        pen = max(0, min(penalty, self.n_due[i] - self.n_paid[i] - self.n_waived[i]))
        intr = max(0, min(interest, self.i_due[i] - self.i_paid[i] - self.i_waived[i]))
        self.n_waived[i] += pen
        self.i_waived[i] += intr
        self.unpaid -= pen + intr
        if self.paid_date[i] is None and self._row_unpaid(i) == 0:
            self.paid_date[i] = on
        self._advance()
        closing = self._close_if_paid_off(on)
        return Allocation(
            penalty=pen,
            interest=intr,
            interest_waived=closing,
            installments=(InstallmentAllocation(number, pen, 0, intr, 0),),
        )

    def write_off(self, on: date) -> None:
        if self.written_off_on is not None or self.closed_on is not None:
            return
        due = bisect_right(self.dues, on)
        interest = sum(
            self.i_due[i] - self.i_paid[i] - self.i_waived[i] for i in range(self.first_open, due)
        )
        charges = sum(
            self.f_due[i] - self.f_paid[i] + self.n_due[i] - self.n_paid[i] - self.n_waived[i]
            for i in range(self.first_open, self.n)
        )
        self.written_off_on = on
        self.written_off_amount = self.principal_left + interest + charges

    # -- result -------------------------------------------------------------------------
    def arrears(self, as_of: date) -> ArrearsSummary:
        """What end of day reads of the loan as of ``as_of``: the figures of ``state``
        (and of its installments) without building them. Rows before ``first_open`` are
        settled (every share of them is paid or waived), so they add nothing."""
        wo = self.written_off_on
        if wo is not None:
            return ArrearsSummary(False, None, wo, 0, 0, 0, 0, 0, 0, 0)
        dues = self.dues
        p_due, p_paid = self.p_due, self.p_paid
        i_due, i_paid, i_waived = self.i_due, self.i_paid, self.i_waived
        f_due, f_paid = self.f_due, self.f_paid
        n_due, n_paid, n_waived = self.n_due, self.n_paid, self.n_waived
        receivable = overdue_amount = overdue = dpd = 0
        for i in range(self.first_open, bisect_right(dues, as_of)):
            interest = i_due[i] - i_paid[i] - i_waived[i]
            receivable += interest
            unpaid = (
                p_due[i] - p_paid[i] + interest + f_due[i] - f_paid[i]
                + n_due[i] - n_paid[i] - n_waived[i]
            )
            if unpaid and dues[i] < as_of:
                overdue += 1
                overdue_amount += unpaid
                days = (as_of - dues[i]).days
                if days > dpd:
                    dpd = days
        closed = self.unpaid == 0
        return ArrearsSummary(
            closed,
            self.closed_on if closed else None,
            None,
            self.principal_left,
            receivable,
            sum(f_due) - sum(f_paid),
            sum(n_due) - sum(n_paid) - sum(n_waived),
            overdue_amount,
            overdue,
            dpd,
        )

    def _installment(
        self, i: int, row: ScheduleRow, unpaid: int, status_date: date
    ) -> InstallmentState:
        """Installment ``i`` with its status on ``status_date`` (the write-off date, if any)."""
        due = self.dues[i]
        row_dpd = 0
        if unpaid == 0:
            status = InstallmentStatus.WAIVED if self.i_waived[i] else InstallmentStatus.PAID
        elif due < status_date:
            status = InstallmentStatus.OVERDUE
            row_dpd = (status_date - due).days
        elif (
            self.p_paid[i]
            or self.i_paid[i]
            or self.f_paid[i]
            or self.n_paid[i]
            or self.i_waived[i]
            or self.n_waived[i]
        ):
            status = InstallmentStatus.PARTIAL
        else:
            status = InstallmentStatus.PENDING
        # Positional, in field order: built for every row of every replay.
        return _new_installment(
            (
                row.number, due, self.p_due[i], self.i_due[i], self.f_due[i], self.n_due[i],
                self.p_paid[i], self.i_paid[i], self.f_paid[i], self.n_paid[i],
                self.i_waived[i], self.n_waived[i], row.outstanding_principal_after, status,
                self.paid_date[i] if unpaid == 0 else None, row_dpd,
            )
        )

    def state(self, schedule: Schedule, as_of: date) -> LoanState:
        status_date = self.written_off_on or as_of
        rows: list[InstallmentState] = []
        dpd = 0
        arrears = 0
        next_date: date | None = None
        next_amount = 0
        paid_count = overdue_count = 0
        for i, row in enumerate(schedule.rows):
            unpaid = self._row_unpaid(i)
            due = self.dues[i]
            installment = self._installment(i, row, unpaid, status_date)
            rows.append(installment)
            if unpaid == 0:
                paid_count += 1
            elif installment.status is InstallmentStatus.OVERDUE:
                dpd = max(dpd, installment.days_past_due)
                overdue_count += 1
            if due <= as_of:
                # Due today is in arrears (not yet past due) and is also the next due.
                arrears += unpaid
            if due >= as_of and unpaid and next_date is None:
                next_date, next_amount = due, unpaid
        principal_paid = sum(self.p_paid)
        interest_paid = sum(self.i_paid)
        fees_paid = sum(self.f_paid)
        penalties_paid = sum(self.n_paid)
        written_off = self.written_off_on is not None
        if written_off:
            out_principal = out_fees = out_penalties = 0
            out_interest = arrears = 0
            next_date, next_amount = None, 0
        else:
            out_principal = self.principal_left
            # All scheduled interest not yet paid or waived, due or not: so every unit of a
            # repayment, wherever it is allocated, lowers total_outstanding by one.
            out_interest = sum(self.i_due) - interest_paid - sum(self.i_waived)
            out_fees = sum(self.f_due) - fees_paid
            out_penalties = sum(self.n_due) - penalties_paid - sum(self.n_waived)
        closed = not written_off and self.unpaid == 0
        return LoanState(
            currency=schedule.currency,
            as_of=as_of,
            disbursement_date=schedule.disbursement_date,
            installments=tuple(rows),
            outstanding_principal=out_principal,
            outstanding_interest=out_interest,
            outstanding_fees=out_fees,
            outstanding_penalties=out_penalties,
            total_outstanding=out_principal + out_interest + out_fees + out_penalties,
            total_paid=principal_paid + interest_paid + fees_paid + penalties_paid,
            principal_paid=principal_paid,
            interest_paid=interest_paid,
            fees_paid=fees_paid,
            penalties_paid=penalties_paid,
            total_waived=sum(self.i_waived) + sum(self.n_waived),
            days_past_due=dpd,
            arrears_amount=arrears,
            next_due_date=next_date,
            next_due_amount=next_amount,
            installments_paid=paid_count,
            installments_overdue=overdue_count,
            closed=closed,
            closed_date=self.closed_on if closed else None,
            written_off=written_off,
            written_off_date=self.written_off_on,
            written_off_amount=self.written_off_amount,
            recovered_amount=self.recovered,
            allocations=self.allocations,
        )


_REPLAY_ORDER = attrgetter("value_date", "sequence")


def effective_transactions(
    transactions: Iterable[Transaction], as_of: date | None = None
) -> list[Transaction]:
    """The transactions that count as of ``as_of``, in replay order, reversals applied."""
    if as_of is None:
        selected = list(transactions)
    else:
        selected = [t for t in transactions if t.value_date <= as_of]
    cancelled = {t.reverses for t in selected if t.type is TransactionType.REVERSAL}
    if cancelled:
        selected = [
            t for t in selected
            if t.type is not TransactionType.REVERSAL and t.id not in cancelled
        ]
    selected.sort(key=_REPLAY_ORDER)
    return selected


def replay(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Iterable[Transaction],
    business_date: date,
) -> LoanState:
    """The loan's state as of ``business_date``. Pure: same inputs, same state."""
    return _book_as_of(terms, schedule, transactions, business_date).state(
        schedule, business_date
    )


def _book_as_of(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Iterable[Transaction],
    business_date: date,
    record: bool = True,
) -> _Book:
    if terms.currency != schedule.currency:
        raise InvalidArgument.field("currency", "terms and schedule disagree on the currency")
    book = _Book(schedule, record)
    book.run(effective_transactions(transactions, business_date))
    return book


# ------------------------------------------------------------------ payoff


def payoff_quote(state: LoanState, quote_date: date | None = None) -> PayoffQuote:
    """What closes the loan on ``quote_date`` (default: the state's as-of date).

    The state must include every transaction up to the date, so the date may
    not be before ``state.as_of``; for an earlier date use ``quote_payoff``.
    """
    on = state.as_of if quote_date is None else quote_date
    if on < state.as_of:
        raise InvalidArgument.field(
            "date", f"must not be before the state's date {state.as_of.isoformat()}"
        )
    if on < state.disbursement_date:
        raise InvalidArgument.field(
            "date", f"is before the disbursement date {state.disbursement_date.isoformat()}"
        )
    if state.written_off:
        raise FailedPrecondition(
            f"loan was written off on {_iso(state.written_off_date)}; it has no payoff quote"
        )
    rows = state.installments
    full = _chargeable_count([r.due_date for r in rows], state.disbursement_date, on)
    principal = interest = fees = penalties = waived = 0
    for index, row in enumerate(rows):
        principal += row.principal_unpaid
        fees += row.fee_unpaid
        penalties += row.penalty_unpaid
        if index < full:
            interest += row.interest_unpaid
        else:
            waived += row.interest_unpaid
    return PayoffQuote(
        date=on,
        currency=state.currency,
        principal=principal,
        interest=interest,
        fees=fees,
        penalties=penalties,
        total=principal + interest + fees + penalties,
        interest_waived=waived,
    )


def quote_payoff(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Iterable[Transaction],
    quote_date: date,
) -> PayoffQuote:
    """Payoff quote from the inputs: replays as of ``quote_date`` first.

    A reversed payment counts for nothing, even when the reversal is dated after
    ``quote_date``: a bounced payment never paid, and a payment backdated to
    replace it must be checked against what was really owed.
    """
    if quote_date < schedule.disbursement_date:
        raise InvalidArgument.field(
            "date", f"is before the disbursement date {schedule.disbursement_date.isoformat()}"
        )
    return payoff_quote(
        replay(terms, schedule, effective_transactions(transactions), quote_date), quote_date
    )


# ------------------------------------------------------------------ helpers


def _iso(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def next_sequence(transactions: Iterable[Transaction]) -> int:
    return max((t.sequence for t in transactions), default=0) + 1


def _new_id(txn_id: str | None, sequence: int) -> str:
    return txn_id if txn_id else f"T{sequence:06d}"


def find_payment(transactions: Iterable[Transaction], payment_id: str) -> Transaction | None:
    """The REPAYMENT or RECOVERY recorded for ``payment_id``, if any."""
    for txn in transactions:
        if txn.type in _PAYMENTS and txn.payment_id == payment_id:
            return txn
    return None


def reversal_of(transactions: Iterable[Transaction], txn_id: str) -> Transaction | None:
    """The REVERSAL that cancels ``txn_id``, if any."""
    for txn in transactions:
        if txn.type is TransactionType.REVERSAL and txn.reverses == txn_id:
            return txn
    return None


def _require_disbursed(transactions: Sequence[Transaction]) -> None:
    if not any(t.type is TransactionType.DISBURSEMENT for t in transactions):
        raise FailedPrecondition("loan has not been disbursed")


def _write_off_txn(transactions: Iterable[Transaction]) -> Transaction | None:
    for txn in transactions:
        if txn.type is TransactionType.WRITE_OFF:
            return txn
    return None


def _check_value_date(schedule: Schedule, value_date: date, business_date: date) -> None:
    if value_date < schedule.disbursement_date:
        raise InvalidArgument.field(
            "value_date",
            f"is before the disbursement date {schedule.disbursement_date.isoformat()}",
        )
    if value_date > business_date:
        raise InvalidArgument.field(
            "value_date", f"is in the future (business date {business_date.isoformat()})"
        )


def _check_no_overflow(state: LoanState, value_date: date, quote_total: int) -> None:
    """A backdated entry may leave later repayments with nothing to pay: refuse it."""
    if any(a.unallocated for a in state.allocations.values()):
        raise FailedPrecondition(
            "this would overpay the loan: later repayments already cover what it pays; "
            f"the payoff amount on {value_date.isoformat()} is {state.money(quote_total)}"
        )


def _money(terms: ProductTerms, amount: int) -> Money:
    return Money(amount, terms.currency)


# ------------------------------------------------------------------ disbursement


@dataclass(frozen=True, slots=True)
class Disbursement:
    schedule: Schedule
    transaction: Transaction


def disburse(
    terms: ProductTerms,
    principal: int,
    installments: int,
    *,
    disbursement_date: date,
    business_date: date,
    first_repayment_date: date | None = None,
    actor: str,
    txn_id: str | None = None,
    created_at: datetime | None = None,
) -> Disbursement:
    """Freeze the schedule and record the DISBURSEMENT (sequence 1)."""
    if disbursement_date > business_date:
        raise InvalidArgument.field(
            "disbursement_date", f"is in the future (business date {business_date.isoformat()})"
        )
    schedule = generate_schedule(
        terms, principal, installments, disbursement_date, first_repayment_date
    )
    txn = Transaction(
        id=_new_id(txn_id, 1),
        type=TransactionType.DISBURSEMENT,
        value_date=disbursement_date,
        amount=principal,
        sequence=1,
        actor=actor,
        created_at=created_at,
    )
    return Disbursement(schedule=schedule, transaction=txn)


# ------------------------------------------------------------------ repayments


@dataclass(frozen=True, slots=True)
class RepaymentResult:
    transaction: Transaction
    transactions: tuple[Transaction, ...]
    state: LoanState
    allocation: Allocation
    # True when payment_id had already been applied: nothing new was recorded.
    replayed: bool
    # True when the loan is written off and this is a RECOVERY.
    recovery: bool

    @property
    def closed(self) -> bool:
        return self.state.closed


def _repayment_again(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    existing: Transaction,
    amount: int,
    value_date: date,
    business_date: date,
) -> RepaymentResult:
    """The first result for a payment id already applied, if this is the same payment."""
    payment_id = existing.payment_id
    if existing.amount != amount or existing.value_date != value_date:
        raise AlreadyExists(
            f"payment {payment_id} was already applied to this loan with "
            f"{_money(terms, existing.amount)} on {existing.value_date.isoformat()}"
        )
    reversal = reversal_of(transactions, existing.id)
    if reversal is not None:
        raise FailedPrecondition(
            f"payment {payment_id} was applied and then reversed on "
            f"{reversal.value_date.isoformat()}; it cannot be applied again"
        )
    state = replay(terms, schedule, transactions, max(business_date, existing.value_date))
    return RepaymentResult(
        transaction=existing,
        transactions=tuple(transactions),
        state=state,
        allocation=state.allocations.get(existing.id, Allocation()),
        replayed=True,
        recovery=existing.type is TransactionType.RECOVERY,
    )


def _repayment_kind(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    amount: int,
    value_date: date,
    business_date: date,
) -> tuple[TransactionType, int]:
    """REPAYMENT up to the payoff, or after a write-off RECOVERY up to what is unrecovered;
    with that cap."""
    written_off = _write_off_txn(transactions)
    if written_off is not None:
        if value_date < written_off.value_date:
            raise InvalidArgument.field(
                "value_date",
                f"is before the write-off on {written_off.value_date.isoformat()}; "
                "payments after a write-off are recoveries",
            )
        current = replay(terms, schedule, transactions, business_date)
        if amount > current.recoverable:
            raise FailedPrecondition(
                f"recovery of {_money(terms, amount)} exceeds the unrecovered written-off "
                f"amount of {_money(terms, current.recoverable)}"
            )
        return TransactionType.RECOVERY, current.recoverable
    quote = quote_payoff(terms, schedule, transactions, value_date)
    if amount > quote.total:
        raise FailedPrecondition(
            f"repayment of {_money(terms, amount)} exceeds the payoff amount of "
            f"{_money(terms, quote.total)} on {value_date.isoformat()}"
        )
    return TransactionType.REPAYMENT, quote.total


def apply_repayment(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    *,
    payment_id: str,
    amount: int,
    value_date: date,
    business_date: date,
    actor: str = "",
    channel: str = "",
    txn_id: str | None = None,
    created_at: datetime | None = None,
) -> RepaymentResult:
    """Validate and allocate a repayment; idempotent on ``payment_id``.

    Refuses (FailedPrecondition) an amount above the payoff for the value
    date, naming the payoff amount; after a write-off the payment is a
    RECOVERY, capped at the unrecovered written-off amount.
    """
    if not payment_id:
        raise InvalidArgument.field("payment_id", "is required")
    existing = find_payment(transactions, payment_id)
    if existing is not None:
        return _repayment_again(
            terms, schedule, transactions, existing, amount, value_date, business_date
        )
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidArgument.field("amount", "must be a positive amount")
    _check_value_date(schedule, value_date, business_date)
    _require_disbursed(transactions)
    sequence = next_sequence(transactions)
    kind, quote_total = _repayment_kind(
        terms, schedule, transactions, amount, value_date, business_date
    )
    txn = Transaction(
        id=_new_id(txn_id, sequence),
        type=kind,
        value_date=value_date,
        amount=amount,
        sequence=sequence,
        payment_id=payment_id,
        actor=actor,
        channel=channel,
        created_at=created_at,
    )
    updated = (*transactions, txn)
    state = replay(terms, schedule, updated, business_date)
    _check_no_overflow(state, value_date, quote_total)
    return RepaymentResult(
        transaction=txn,
        transactions=updated,
        state=state,
        allocation=state.allocations[txn.id],
        replayed=False,
        recovery=kind is TransactionType.RECOVERY,
    )


@dataclass(frozen=True, slots=True)
class ReversalResult:
    transaction: Transaction
    reversed_transaction: Transaction
    transactions: tuple[Transaction, ...]
    state: LoanState


def reverse_repayment(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    *,
    payment_id: str,
    reason: str,
    actor: str,
    business_date: date,
    txn_id: str | None = None,
    created_at: datetime | None = None,
) -> ReversalResult:
    """Record a REVERSAL of the payment; the loan is replayed without it.

    NotFound for an unknown payment id, FailedPrecondition if already
    reversed (``reversal_of`` lets a caller answer that idempotently).
    """
    if not reason.strip():
        raise InvalidArgument.field("reason", "is required")
    target = find_payment(transactions, payment_id)
    if target is None:
        raise NotFound(f"no repayment with payment id {payment_id} on this loan")
    earlier = reversal_of(transactions, target.id)
    if earlier is not None:
        raise FailedPrecondition(
            f"payment {payment_id} was already reversed on {earlier.value_date.isoformat()}"
        )
    written_off = _write_off_txn(transactions)
    if written_off is not None and target.type is TransactionType.REPAYMENT:
        # The write-off booked the balance net of this payment; undoing it would
        # silently change the amount written off and already published.
        raise FailedPrecondition(
            f"loan was written off on {written_off.value_date.isoformat()}; a repayment "
            "made before the write-off cannot be reversed (only recoveries can)"
        )
    sequence = next_sequence(transactions)
    txn = Transaction(
        id=_new_id(txn_id, sequence),
        type=TransactionType.REVERSAL,
        value_date=max(business_date, target.value_date),
        amount=target.amount,
        sequence=sequence,
        payment_id=payment_id,
        reverses=target.id,
        reason=reason.strip(),
        actor=actor,
        created_at=created_at,
    )
    updated = (*transactions, txn)
    return ReversalResult(
        transaction=txn,
        reversed_transaction=target,
        transactions=updated,
        state=replay(terms, schedule, updated, max(business_date, txn.value_date)),
    )


# ------------------------------------------------------------------ waivers


@dataclass(frozen=True, slots=True)
class WaiverResult:
    transaction: Transaction
    transactions: tuple[Transaction, ...]
    state: LoanState
    allocation: Allocation


def waive_charges(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    *,
    installment_number: int,
    penalty_amount: int,
    interest_amount: int,
    reason: str,
    actor: str,
    value_date: date,
    business_date: date,
    txn_id: str | None = None,
    created_at: datetime | None = None,
) -> WaiverResult:
    """Waive penalty and/or interest of one installment (each at most what is unpaid)."""
    if not reason.strip():
        raise InvalidArgument.field("reason", "is required")
    if not 1 <= installment_number <= schedule.installments:
        raise InvalidArgument.field(
            "installment_number", f"must be between 1 and {schedule.installments}"
        )
    if penalty_amount < 0:
        raise InvalidArgument.field("penalty_amount", "must not be negative")
    if interest_amount < 0:
        raise InvalidArgument.field("interest_amount", "must not be negative")
    if penalty_amount + interest_amount == 0:
        raise InvalidArgument.field("penalty_amount", "a penalty or interest amount is required")
    _check_value_date(schedule, value_date, business_date)
    _require_disbursed(transactions)
    # As in quote_payoff: what was owed then, bounced payments excluded.
    then = replay(terms, schedule, effective_transactions(transactions), value_date)
    if then.written_off:
        raise FailedPrecondition("loan is written off; its charges cannot be waived")
    if then.closed:
        raise FailedPrecondition("loan is fully paid; there is nothing to waive")
    row = then.installments[installment_number - 1]
    if penalty_amount > row.penalty_unpaid:
        raise InvalidArgument.field(
            "penalty_amount",
            f"exceeds the unpaid penalty {_money(terms, row.penalty_unpaid)} of installment "
            f"{installment_number}",
        )
    if interest_amount > row.interest_unpaid:
        raise InvalidArgument.field(
            "interest_amount",
            f"exceeds the unpaid interest {_money(terms, row.interest_unpaid)} of installment "
            f"{installment_number}",
        )
    sequence = next_sequence(transactions)
    txn = Transaction(
        id=_new_id(txn_id, sequence),
        type=TransactionType.WAIVER,
        value_date=value_date,
        amount=penalty_amount + interest_amount,
        sequence=sequence,
        installment_number=installment_number,
        penalty_amount=penalty_amount,
        interest_amount=interest_amount,
        reason=reason.strip(),
        actor=actor,
        created_at=created_at,
    )
    updated = (*transactions, txn)
    state = replay(terms, schedule, updated, business_date)
    _check_no_overflow(state, value_date, payoff_quote(then).total)
    return WaiverResult(
        transaction=txn,
        transactions=updated,
        state=state,
        allocation=state.allocations[txn.id],
    )


# ------------------------------------------------------------------ write-off


@dataclass(frozen=True, slots=True)
class WriteOffResult:
    transaction: Transaction
    transactions: tuple[Transaction, ...]
    state: LoanState

    @property
    def written_off_amount(self) -> int:
        return self.state.written_off_amount


def write_off(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    *,
    reason: str,
    actor: str,
    business_date: date,
    value_date: date | None = None,
    txn_id: str | None = None,
    created_at: datetime | None = None,
) -> WriteOffResult:
    """Write the outstanding balance off. Not before any existing transaction's value date."""
    if not reason.strip():
        raise InvalidArgument.field("reason", "is required")
    on = business_date if value_date is None else value_date
    _check_value_date(schedule, on, business_date)
    _require_disbursed(transactions)
    latest = max((t.value_date for t in transactions), default=schedule.disbursement_date)
    if on < latest:
        raise InvalidArgument.field(
            "value_date", f"must not be before the latest transaction on {latest.isoformat()}"
        )
    if _write_off_txn(transactions) is not None:
        raise FailedPrecondition("loan is already written off")
    before = replay(terms, schedule, transactions, on)
    if before.closed:
        raise FailedPrecondition("loan is fully paid; there is nothing to write off")
    sequence = next_sequence(transactions)
    # Interest of periods not yet due is not written off (it was never earned).
    amount = (
        before.outstanding_principal
        + sum(row.interest_unpaid for row in before.installments if row.due_date <= on)
        + before.outstanding_fees
        + before.outstanding_penalties
    )
    txn = Transaction(
        id=_new_id(txn_id, sequence),
        type=TransactionType.WRITE_OFF,
        value_date=on,
        amount=amount,
        sequence=sequence,
        reason=reason.strip(),
        actor=actor,
        created_at=created_at,
    )
    updated = (*transactions, txn)
    return WriteOffResult(
        transaction=txn,
        transactions=updated,
        state=replay(terms, schedule, updated, business_date),
    )


# ------------------------------------------------------------------ late penalties


@dataclass(frozen=True, slots=True)
class PenaltyCharge:
    installment_number: int
    amount: int
    # The first day the installment is late beyond the grace days.
    value_date: date


@dataclass(frozen=True, slots=True)
class PenaltyResult:
    charged: tuple[Transaction, ...]
    transactions: tuple[Transaction, ...]
    state: LoanState


class _GracePeriods:
    """The loan as of the end of each grace period in turn, bounced payments excluded.

    One book run forward over the effective transactions, with the penalties charged
    meanwhile merged in replay order, so each period costs only its own transactions
    (a fresh replay per installment would start from the disbursement each time).
    """

    def __init__(self, schedule: Schedule, transactions: Sequence[Transaction]) -> None:
        self.book = _Book(schedule, record=False)
        self.stream = effective_transactions(transactions)
        self.taken = 0
        # Penalties charged since; each is dated after the period it was charged for.
        self.fresh: list[Transaction] = []

    def owed_at(self, i: int, last_free_day: date) -> int | None:
        """Row i's unpaid principal + interest + fee at the end of ``last_free_day``
        (None if the loan was closed or written off by then). Days only go forward."""
        stream, upto = self.stream, self.taken
        while upto < len(stream) and stream[upto].value_date <= last_free_day:
            upto += 1
        chunk = stream[self.taken : upto]
        self.taken = upto
        if self.fresh:
            chunk += [t for t in self.fresh if t.value_date <= last_free_day]
            self.fresh = [t for t in self.fresh if t.value_date > last_free_day]
            chunk.sort(key=_REPLAY_ORDER)
        book = self.book
        book.run(chunk)
        if book.written_off_on is not None or book.unpaid == 0:
            return None
        return (
            book.p_due[i] - book.p_paid[i] + book.i_due[i] - book.i_paid[i] - book.i_waived[i]
            + book.f_due[i] - book.f_paid[i]
        )


def _penalty_txn(
    number: int, amount: int, on: date, sequence: int, grace_days: int, actor: str,
    created_at: datetime | None,
) -> Transaction:
    return Transaction(
        id=_new_id(None, sequence),
        type=TransactionType.PENALTY,
        value_date=on,
        amount=amount,
        sequence=sequence,
        installment_number=number,
        reason=f"late penalty: installment {number} unpaid after {grace_days} grace day(s)",
        actor=actor,
        created_at=created_at,
    )


def charge_late_penalties(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
    *,
    actor: str = SYSTEM_ACTOR,
    created_at: datetime | None = None,
) -> PenaltyResult:
    """Charge the product's late penalty, once per installment; idempotent.

    An installment is late when it is not settled by the end of its due date
    plus the grace days. It is then charged once, with the value date
    due date + grace days + 1 whatever day the end-of-day job runs, so a late
    or repeated run charges exactly the same. The percent base is what the
    installment still owed (principal, interest, fee) at the end of the grace
    period, reversed payments excluded. Loans closed or written off by the
    business date are left alone.
    """
    current = _book_as_of(terms, schedule, transactions, business_date)
    charged, updated, book = _late_penalties(
        terms, schedule, transactions, business_date, current, actor, created_at
    )
    return PenaltyResult(charged, updated, book.state(schedule, business_date))


class DayClose(NamedTuple):
    """``close_day``: the penalties charged, the transactions with them, the arrears."""

    charged: tuple[Transaction, ...]
    transactions: tuple[Transaction, ...]
    arrears: ArrearsSummary


def close_day(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
    *,
    actor: str = SYSTEM_ACTOR,
    created_at: datetime | None = None,
) -> DayClose:
    """``charge_late_penalties`` for end of day: the same penalties and transactions, and
    the arrears as of the date (``ArrearsSummary``) instead of the whole ``LoanState``;
    the replays keep no allocations. tests/unit/test_eod.py holds it to the full path."""
    current = _book_as_of(terms, schedule, transactions, business_date, record=False)
    charged, updated, book = _late_penalties(
        terms, schedule, transactions, business_date, current, actor, created_at
    )
    return DayClose(charged, updated, book.arrears(business_date))


def _late_penalties(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
    current: _Book,
    actor: str,
    created_at: datetime | None,
) -> tuple[tuple[Transaction, ...], tuple[Transaction, ...], _Book]:
    """The penalties due, the transactions with them, and the book as of the date with
    them (``current``, the book as of the date without, when none is due)."""
    rules = terms.late_penalty
    if rules is None or current.written_off_on is not None or current.unpaid == 0:
        return (), tuple(transactions), current
    # As effective_transactions() would keep them, without sorting the whole list.
    cancelled = {t.reverses for t in transactions if t.type is TransactionType.REVERSAL}
    penalised = {
        t.installment_number
        for t in transactions
        if t.type is TransactionType.PENALTY and t.id not in cancelled
    }
    grace = timedelta(days=rules.grace_days)
    updated = list(transactions)
    charged: list[Transaction] = []
    # The loan as of the business date with the penalties charged so far.
    now = current
    periods: _GracePeriods | None = None
    for row in schedule.rows:
        last_free_day = row.due_date + grace
        if last_free_day >= business_date:
            break
        if row.number in penalised:
            continue
        i = row.number - 1
        if now.settled_by(i, last_free_day):
            continue
        if periods is None:
            periods = _GracePeriods(schedule, transactions)
        base = periods.owed_at(i, last_free_day)
        amount = 0 if base is None else rules.amount_for(base)
        if amount <= 0:
            continue
        txn = _penalty_txn(row.number, amount, last_free_day + timedelta(days=1),
                           next_sequence(updated), rules.grace_days, actor, created_at)
        updated.append(txn)
        charged.append(txn)
        periods.fresh.append(txn)
        # Later installments are judged on the loan with this penalty in it.
        now = _Book(schedule, record=False)
        now.run(effective_transactions(updated, business_date))
    if not charged:
        return (), tuple(transactions), current
    book = _book_as_of(terms, schedule, updated, business_date, current.record)
    return tuple(charged), tuple(updated), book


def late_penalties_due(
    terms: ProductTerms,
    schedule: Schedule,
    transactions: Sequence[Transaction],
    business_date: date,
) -> list[PenaltyCharge]:
    """What ``charge_late_penalties`` would charge, without recording anything."""
    result = charge_late_penalties(terms, schedule, transactions, business_date)
    return [PenaltyCharge(t.installment_number, t.amount, t.value_date) for t in result.charged]


__all__ = [
    "SYSTEM_ACTOR",
    "Allocation",
    "ArrearsSummary",
    "DayClose",
    "Disbursement",
    "InstallmentAllocation",
    "InstallmentState",
    "InstallmentStatus",
    "LoanState",
    "PayoffQuote",
    "PenaltyCharge",
    "PenaltyResult",
    "RepaymentResult",
    "ReversalResult",
    "Transaction",
    "TransactionType",
    "WaiverResult",
    "WriteOffResult",
    "apply_repayment",
    "charge_late_penalties",
    "close_day",
    "disburse",
    "effective_transactions",
    "find_payment",
    "late_penalties_due",
    "next_sequence",
    "payoff_quote",
    "quote_payoff",
    "replay",
    "reversal_of",
    "reverse_repayment",
    "waive_charges",
    "write_off",
]
