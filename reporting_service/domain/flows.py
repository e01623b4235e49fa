"""Reports over a date range: disbursements, collections, collection efficiency, agents.

A period is ``start`` to ``end`` inclusive (``check_range``). Rows are
grouped by day ("2026-06-01"), ISO week ("2026-W23": ISO year and week, so
the days of a week around New Year stay together) or month ("2026-06"),
optionally by one dimension, and always by currency: amounts of different
currencies are never added, each currency has its own rows and totals.

Collection efficiency, for the period and per agent and currency:

* ``due``: for each installment with a due date in the period, its
  scheduled principal + interest + fee, less what had been paid to it
  (principal, interest, fee) with a value date before the period: what was
  still to collect of it when the period began;
* ``collected_due``: principal + interest + fee paid in the period to the
  installments due in the period (on time or late, before the period ends);
* ``arrears_collected``: paid in the period to installments due before it
  (repayments of arrears);
* ``prepaid``: paid in the period to installments due after it
  (prepayments);
* ``penalties_collected``: penalties paid in the period, on any installment;
* ``rate``: ``collected_due / due`` in percent with 2 decimals, HALF_EVEN;
  None when nothing was due. It is never above 100: an installment takes no
  more than its scheduled amount.

Arrears repayments and prepayments are kept out of the rate so that
catching up on old arrears or paying ahead does not hide what was missed in
the period. Recoveries of written-off loans are not collections against
anything due; they are in the collections report, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeVar

from reporting_service.domain.facts import (
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.domain.figures import check_range, money, percent, rate
from reporting_service.domain.portfolio import Dimension
from shared.errors import InvalidArgument
from shared.money import Money
from shared.portfolio import LoanSnapshot


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def period_of(day: date, granularity: Granularity) -> str:
    """The label of the period ``day`` falls in."""
    if granularity is Granularity.DAY:
        return day.isoformat()
    if granularity is Granularity.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def _key_of(
    by: Dimension | None, agent_id: str, branch_id: str, product_id: str, channel: str
) -> str:
    if by is None:
        return ""
    if by is Dimension.AGENT:
        return agent_id
    if by is Dimension.BRANCH:
        return branch_id
    if by is Dimension.PRODUCT:
        return product_id
    return channel


R = TypeVar("R")


class _Tally:
    """Running sums per group (labels, then currency). Every amount also goes to its
    currency's total: the group whose labels are all "" (so a total's first label is "")."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._groups: dict[tuple[str, ...], list[int]] = {}

    def sums(self, *group: str) -> Iterator[list[int]]:
        """The sums of ``group``, then those of its currency's total, to add to."""
        total = ("",) * (len(group) - 1) + (group[-1],)
        for g in (group, total):
            yield self._groups.setdefault(g, [0] * self._width)

    def rows(
        self, row: Callable[[tuple[str, ...], list[int]], R]
    ) -> tuple[tuple[R, ...], tuple[R, ...]]:
        """The rows then the totals, each in group order."""
        ordered = sorted(self._groups)
        return (
            tuple(row(g, self._groups[g]) for g in ordered if g[0]),
            tuple(row(g, self._groups[g]) for g in ordered if not g[0]),
        )


# ------------------------------------------------------------------ disbursements


@dataclass(frozen=True, slots=True)
class DisbursementRow:
    # Period label; "" on a total.
    period: str
    # Value of the grouping dimension; "" without one and on a total.
    key: str
    currency: str
    loan_count: int
    principal: Money
    upfront_fees: Money
    net_disbursed: Money


@dataclass(frozen=True, slots=True)
class DisbursementReport:
    start: date
    end: date
    granularity: Granularity
    by: Dimension | None
    # By period, key, then currency.
    rows: tuple[DisbursementRow, ...]
    # One per currency.
    totals: tuple[DisbursementRow, ...]


def disbursement_report(
    facts: Iterable[DisbursementFact],
    start: date,
    end: date,
    granularity: Granularity = Granularity.DAY,
    by: Dimension | None = None,
) -> DisbursementReport:
    """Loans disbursed from ``start`` to ``end``, by period (and agent, branch or product)."""
    check_range(start, end)
    if by is Dimension.CHANNEL:
        raise InvalidArgument.field("group_by", "disbursements have no channel")
    tally = _Tally(3)
    for d in facts:
        if not start <= d.disbursement_date <= end:
            continue
        key = _key_of(by, d.agent_id, d.branch_id, d.product_id, "")
        for figures in tally.sums(period_of(d.disbursement_date, granularity), key, d.currency):
            figures[0] += 1
            figures[1] += d.principal
            figures[2] += d.upfront_fee

    def row(group: tuple[str, ...], figures: list[int]) -> DisbursementRow:
        count, principal, fees = figures
        currency = group[2]
        return DisbursementRow(
            group[0], group[1], currency, count, money(principal, currency),
            money(fees, currency), money(principal - fees, currency),
        )

    rows, totals = tally.rows(row)
    return DisbursementReport(start, end, granularity, by, rows=rows, totals=totals)


# ------------------------------------------------------------------ collections


@dataclass(frozen=True, slots=True)
class CollectionRow:
    period: str
    key: str
    currency: str
    payment_count: int
    # Received, reversed payments excluded: principal + interest + fee + penalty + recovery.
    collected: Money
    principal: Money
    interest: Money
    fees: Money
    penalties: Money
    recoveries: Money
    # Payments in the period that were later reversed (not in ``collected``).
    reversed_count: int
    reversed: Money


@dataclass(frozen=True, slots=True)
class CollectionReport:
    start: date
    end: date
    granularity: Granularity
    by: Dimension | None
    rows: tuple[CollectionRow, ...]
    totals: tuple[CollectionRow, ...]


_COUNT, _AMOUNT, _PRINCIPAL, _INTEREST, _FEE, _PENALTY, _RECOVERY, _REV_COUNT, _REV = range(9)


def collection_report(
    facts: Iterable[CollectionFact],
    start: date,
    end: date,
    granularity: Granularity = Granularity.DAY,
    by: Dimension | None = None,
) -> CollectionReport:
    """Money received from ``start`` to ``end`` (by value date), by period and dimension."""
    check_range(start, end)
    tally = _Tally(9)
    for c in facts:
        if not start <= c.value_date <= end:
            continue
        key = _key_of(by, c.agent_id, c.branch_id, c.product_id, c.channel)
        for f in tally.sums(period_of(c.value_date, granularity), key, c.currency):
            if c.reversed:
                f[_REV_COUNT] += 1
                f[_REV] += c.amount
                continue
            f[_COUNT] += 1
            f[_AMOUNT] += c.amount
            f[_PRINCIPAL] += c.principal
            f[_INTEREST] += c.interest
            f[_FEE] += c.fee
            f[_PENALTY] += c.penalty
            f[_RECOVERY] += c.recovery

    def row(group: tuple[str, ...], f: list[int]) -> CollectionRow:
        cur = group[2]
        return CollectionRow(
            group[0], group[1], cur, f[_COUNT], money(f[_AMOUNT], cur),
            money(f[_PRINCIPAL], cur), money(f[_INTEREST], cur), money(f[_FEE], cur),
            money(f[_PENALTY], cur), money(f[_RECOVERY], cur), f[_REV_COUNT], money(f[_REV], cur),
        )

    rows, totals = tally.rows(row)
    return CollectionReport(start, end, granularity, by, rows=rows, totals=totals)


# ------------------------------------------------------------------ collection efficiency


@dataclass(frozen=True, slots=True)
class EfficiencyRow:
    # "" on a total.
    agent_id: str
    currency: str
    due: Money
    collected_due: Money
    arrears_collected: Money
    prepaid: Money
    penalties_collected: Money
    # collected_due / due, percent; None when nothing was due.
    rate: str | None

    @property
    def collected(self) -> Money:
        """Everything received in the period (recoveries aside)."""
        return self.collected_due + self.arrears_collected + self.prepaid + self.penalties_collected


@dataclass(frozen=True, slots=True)
class EfficiencyReport:
    start: date
    end: date
    # By agent, then currency.
    rows: tuple[EfficiencyRow, ...]
    totals: tuple[EfficiencyRow, ...]


_DUE, _ON_DUE, _ARREARS, _PREPAID, _PENALTIES = range(5)


def collection_efficiency(
    dues: Iterable[InstallmentDue],
    payments: Iterable[InstallmentPayment],
    start: date,
    end: date,
) -> EfficiencyReport:
    """Collected against due from ``start`` to ``end``, per agent (see the module docstring)."""
    check_range(start, end)
    tally = _Tally(5)

    def add(agent_id: str, currency: str, index: int, amount: int) -> None:
        for f in tally.sums(agent_id, currency):
            f[index] += amount

    # (loan, installment) -> paid to it before the period.
    paid_before: dict[tuple[str, int], int] = {}
    for p in payments:
        if p.value_date < start:
            if start <= p.due_date <= end:
                slot = (p.loan_id, p.installment_number)
                paid_before[slot] = paid_before.get(slot, 0) + p.amount
            continue
        if p.value_date > end:
            continue
        if p.due_date < start:
            add(p.agent_id, p.currency, _ARREARS, p.amount)
        elif p.due_date > end:
            add(p.agent_id, p.currency, _PREPAID, p.amount)
        else:
            add(p.agent_id, p.currency, _ON_DUE, p.amount)
        if p.penalty:
            add(p.agent_id, p.currency, _PENALTIES, p.penalty)
    for d in dues:
        if start <= d.due_date <= end:
            left = d.amount - paid_before.get((d.loan_id, d.installment_number), 0)
            add(d.agent_id, d.currency, _DUE, max(0, left))

    def row(group: tuple[str, ...], f: list[int]) -> EfficiencyRow:
        cur = group[1]
        return EfficiencyRow(
            group[0], cur, money(f[_DUE], cur), money(f[_ON_DUE], cur),
            money(f[_ARREARS], cur), money(f[_PREPAID], cur), money(f[_PENALTIES], cur),
            rate(f[_ON_DUE], f[_DUE]),
        )

    rows, totals = tally.rows(row)
    return EfficiencyReport(start, end, rows=rows, totals=totals)


# ------------------------------------------------------------------ agent performance


@dataclass(frozen=True, slots=True)
class AgentPerformance:
    agent_id: str
    currency: str
    borrowers: int
    active_loans: int
    outstanding_principal: Money
    # Outstanding principal of the agent's active loans with DPD > 30, and its share.
    at_risk_30: Money
    par30: str
    # The agent's collection efficiency rate over the period (None: nothing was due).
    collection_rate: str | None


def agent_performance(
    rows: Iterable[LoanSnapshot],
    dues: Iterable[InstallmentDue],
    payments: Iterable[InstallmentPayment],
    start: date,
    end: date,
) -> tuple[AgentPerformance, ...]:
    """Per agent and currency: portfolio as of the snapshot date of ``rows``, collection
    rate over ``start`` to ``end``. An agent with nothing active but something due
    in the period still has a row."""
    efficiency = {(r.agent_id, r.currency): r.rate
                  for r in collection_efficiency(dues, payments, start, end).rows}
    books: dict[tuple[str, str], tuple[set[str], list[int]]] = {}
    for row in rows:
        if not row.active:
            continue
        borrowers, f = books.setdefault((row.agent_id, row.currency), (set(), [0, 0, 0]))
        borrowers.add(row.borrower_id)
        f[0] += 1
        f[1] += row.outstanding_principal
        if row.days_past_due > 30:
            f[2] += row.outstanding_principal
    out: list[AgentPerformance] = []
    for agent_id, currency in sorted(set(books) | set(efficiency)):
        borrowers, f = books.get((agent_id, currency), (set(), [0, 0, 0]))
        out.append(
            AgentPerformance(
                agent_id, currency, len(borrowers), f[0], money(f[1], currency),
                money(f[2], currency), percent(f[2], f[1]),
                efficiency.get((agent_id, currency)),
            )
        )
    return tuple(out)


__all__ = [
    "AgentPerformance",
    "CollectionReport",
    "CollectionRow",
    "DisbursementReport",
    "DisbursementRow",
    "EfficiencyReport",
    "EfficiencyRow",
    "Granularity",
    "agent_performance",
    "collection_efficiency",
    "collection_report",
    "disbursement_report",
    "period_of",
]
