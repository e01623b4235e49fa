"""Reports as of a closed date, from that date's end-of-day snapshot rows.

Only rows with status ACTIVE count as the portfolio: closed loans owe
nothing and written-off loans left the book. Every figure is per currency:
a portfolio in several currencies gets one set of figures per currency,
sorted by code, and amounts of different currencies are never added.

PARn (portfolio at risk, docs/design.md: Arrears) is the outstanding principal
of active loans with DPD > n divided by the outstanding principal of all
active loans, in percent with 2 decimals rounded HALF_EVEN ("0.00" for an
empty portfolio). PAR1, PAR30 and PAR90 are reported, each with the loans
behind it (highest DPD first, then loan id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from reporting_service.domain.facts import ApplicationFact, CollectionFact, DisbursementFact
from reporting_service.domain.figures import check_range, money, percent
from shared.money import Money
from shared.portfolio import BUCKETS, ArrearsBucket, LoanSnapshot, bucket_for

PAR_THRESHOLDS: tuple[int, ...] = (1, 30, 90)


class Dimension(StrEnum):
    AGENT = "agent"
    BRANCH = "branch"
    PRODUCT = "product"
    CHANNEL = "channel"


# ------------------------------------------------------------------ portfolio summary


@dataclass(frozen=True, slots=True)
class PortfolioFigures:
    currency: str
    active_loans: int
    # Distinct borrowers with an active loan.
    borrowers: int
    outstanding_principal: Money
    # Unpaid interest of installments due on or before the date.
    interest_receivable: Money
    # Principal disbursed on or before the date (all loans, whatever their status now).
    disbursed: Money
    # Money received with a value date on or before the date, reversed payments
    # excluded, recoveries included.
    collected: Money
    # Written off on or before the date (loans disbursed to it), and the recoveries received
    # to it (the part of collected received after a write-off).
    written_off: Money
    recovered: Money
    # Loans submitted and not yet decided; approved and not yet disbursed (nor withdrawn).
    pending_approval: int = 0
    approved_not_disbursed: int = 0


@dataclass(frozen=True, slots=True)
class PortfolioGroup:
    dimension: Dimension
    key: str
    figures: PortfolioFigures


@dataclass(frozen=True, slots=True)
class PortfolioSummary:
    as_of: date
    # One per currency.
    totals: tuple[PortfolioFigures, ...]
    # By agent, then branch, then product; each by key, then currency.
    groups: tuple[PortfolioGroup, ...]

    def by(self, dimension: Dimension) -> tuple[PortfolioGroup, ...]:
        return tuple(g for g in self.groups if g.dimension is dimension)


class _Tally:
    __slots__ = ("approved", "borrowers", "collected", "disbursed", "interest", "loans",
                 "pending", "principal", "recovered", "written_off")

    def __init__(self) -> None:
        self.loans = 0
        self.borrowers: set[str] = set()
        self.principal = 0
        self.interest = 0
        self.disbursed = 0
        self.collected = 0
        self.written_off = 0
        self.recovered = 0
        self.pending = 0
        self.approved = 0

    def figures(self, currency: str) -> PortfolioFigures:
        return PortfolioFigures(
            currency=currency,
            active_loans=self.loans,
            borrowers=len(self.borrowers),
            outstanding_principal=money(self.principal, currency),
            interest_receivable=money(self.interest, currency),
            disbursed=money(self.disbursed, currency),
            collected=money(self.collected, currency),
            written_off=money(self.written_off, currency),
            recovered=money(self.recovered, currency),
            pending_approval=self.pending,
            approved_not_disbursed=self.approved,
        )


_SUMMARY_DIMENSIONS = (Dimension.AGENT, Dimension.BRANCH, Dimension.PRODUCT)
# (dimension or None for the total, key, currency)
_Key = tuple[Dimension | None, str, str]


def _scopes(
    agent_id: str, branch_id: str, product_id: str, currency: str
) -> tuple[_Key, _Key, _Key, _Key]:
    return (
        (None, "", currency),
        (Dimension.AGENT, agent_id, currency),
        (Dimension.BRANCH, branch_id, currency),
        (Dimension.PRODUCT, product_id, currency),
    )


def portfolio_summary(
    rows: Iterable[LoanSnapshot],
    disbursements: Iterable[DisbursementFact],
    collections: Iterable[CollectionFact],
    as_of: date,
    applications: Iterable[ApplicationFact] = (),
) -> PortfolioSummary:
    """The portfolio as of ``as_of``: ``rows`` are that date's snapshot rows."""
    tallies: dict[_Key, _Tally] = {}

    def tally(key: _Key) -> _Tally:
        found = tallies.get(key)
        if found is None:
            found = tallies[key] = _Tally()
        return found

    for row in rows:
        if not row.active:
            continue
        for key in _scopes(row.agent_id, row.branch_id, row.product_id, row.currency):
            t = tally(key)
            t.loans += 1
            t.borrowers.add(row.borrower_id)
            t.principal += row.outstanding_principal
            t.interest += row.outstanding_interest
    for d in disbursements:
        if d.disbursement_date <= as_of:
            for key in _scopes(d.agent_id, d.branch_id, d.product_id, d.currency):
                t = tally(key)
                t.disbursed += d.principal
                if d.written_off_on is not None and d.written_off_on <= as_of:
                    t.written_off += d.written_off_amount
    for c in collections:
        if c.value_date <= as_of and not c.reversed:
            for key in _scopes(c.agent_id, c.branch_id, c.product_id, c.currency):
                t = tally(key)
                t.collected += c.amount
                t.recovered += c.recovery
    for a in applications:
        pending, approved = a.pending_approval(as_of), a.approved_not_disbursed(as_of)
        if pending or approved:
            for key in _scopes(a.agent_id, a.branch_id, a.product_id, a.currency):
                t = tally(key)
                t.pending += pending
                t.approved += approved
    totals = tuple(
        tallies[key].figures(key[2]) for key in sorted(k for k in tallies if k[0] is None)
    )
    groups = tuple(
        PortfolioGroup(dimension, key[1], tallies[key].figures(key[2]))
        for dimension in _SUMMARY_DIMENSIONS
        for key in sorted(k for k in tallies if k[0] is dimension)
    )
    return PortfolioSummary(as_of=as_of, totals=totals, groups=groups)


# ------------------------------------------------------------------ PAR


@dataclass(frozen=True, slots=True)
class AtRiskLoan:
    loan_id: str
    agent_id: str
    days_past_due: int
    outstanding_principal: Money


@dataclass(frozen=True, slots=True)
class ParFigure:
    threshold_days: int
    currency: str
    # Outstanding principal of active loans with DPD > threshold_days.
    at_risk_principal: Money
    # Outstanding principal of all active loans (the denominator).
    outstanding_principal: Money
    percent: str
    loan_count: int
    # The loans behind the figure; empty when built from a date's totals (domain/totals).
    loans: tuple[AtRiskLoan, ...] = ()


@dataclass(frozen=True, slots=True)
class ParReport:
    as_of: date
    # Per currency (by code), PAR1, PAR30, PAR90 in that order.
    figures: tuple[ParFigure, ...]

    def figure(self, currency: str, threshold_days: int) -> ParFigure:
        for f in self.figures:
            if f.currency == currency and f.threshold_days == threshold_days:
                return f
        raise KeyError((currency, threshold_days))


def _active_by_currency(rows: Iterable[LoanSnapshot]) -> dict[str, list[LoanSnapshot]]:
    out: dict[str, list[LoanSnapshot]] = {}
    for row in rows:
        if row.active:
            out.setdefault(row.currency, []).append(row)
    return dict(sorted(out.items()))


def _par_figures(
    currency: str, active: list[LoanSnapshot], thresholds: Iterable[int]
) -> list[ParFigure]:
    whole = sum(r.outstanding_principal for r in active)
    # Highest DPD first, so each threshold's loans are a prefix.
    ranked = sorted(active, key=lambda r: (-r.days_past_due, r.loan_id))
    out: list[ParFigure] = []
    for n in thresholds:
        behind = [r for r in ranked if r.days_past_due > n]
        at_risk = sum(r.outstanding_principal for r in behind)
        out.append(
            ParFigure(
                threshold_days=n,
                currency=currency,
                at_risk_principal=money(at_risk, currency),
                outstanding_principal=money(whole, currency),
                percent=percent(at_risk, whole),
                loan_count=len(behind),
                loans=tuple(
                    AtRiskLoan(
                        r.loan_id,
                        r.agent_id,
                        r.days_past_due,
                        money(r.outstanding_principal, currency),
                    )
                    for r in behind
                ),
            )
        )
    return out


def par_report(
    rows: Iterable[LoanSnapshot], as_of: date, thresholds: Iterable[int] = PAR_THRESHOLDS
) -> ParReport:
    """PAR1, PAR30 and PAR90 of ``as_of``'s snapshot rows, per currency."""
    wanted = tuple(thresholds)
    figures = [
        figure
        for currency, active in _active_by_currency(rows).items()
        for figure in _par_figures(currency, active, wanted)
    ]
    return ParReport(as_of=as_of, figures=tuple(figures))


# ------------------------------------------------------------------ aging


@dataclass(frozen=True, slots=True)
class AgingRow:
    currency: str
    bucket: ArrearsBucket
    loan_count: int
    outstanding_principal: Money
    arrears_amount: Money
    # Share of the currency's outstanding principal.
    percent: str


@dataclass(frozen=True, slots=True)
class AgingTotal:
    currency: str
    loan_count: int
    outstanding_principal: Money
    arrears_amount: Money


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: date
    # Per currency, every bucket in order (empty ones too).
    rows: tuple[AgingRow, ...]
    totals: tuple[AgingTotal, ...]


def aging_report(rows: Iterable[LoanSnapshot], as_of: date) -> AgingReport:
    """Active loans by arrears bucket (of their DPD): count, principal, arrears."""
    out: list[AgingRow] = []
    totals: list[AgingTotal] = []
    for currency, active in _active_by_currency(rows).items():
        count = dict.fromkeys(BUCKETS, 0)
        principal = dict.fromkeys(BUCKETS, 0)
        arrears = dict.fromkeys(BUCKETS, 0)
        for r in active:
            bucket = bucket_for(r.days_past_due)
            count[bucket] += 1
            principal[bucket] += r.outstanding_principal
            arrears[bucket] += r.arrears_amount
        whole = sum(principal.values())
        out.extend(
            AgingRow(
                currency=currency,
                bucket=b,
                loan_count=count[b],
                outstanding_principal=money(principal[b], currency),
                arrears_amount=money(arrears[b], currency),
                percent=percent(principal[b], whole),
            )
            for b in BUCKETS
        )
        totals.append(
            AgingTotal(
                currency,
                len(active),
                money(whole, currency),
                money(sum(arrears.values()), currency),
            )
        )
    return AgingReport(as_of=as_of, rows=tuple(out), totals=tuple(totals))


# ------------------------------------------------------------------ trend


@dataclass(frozen=True, slots=True)
class TrendPoint:
    business_date: date
    currency: str
    active_loans: int
    outstanding_principal: Money
    par30: str


def trend(
    rows_by_date: Mapping[date, Iterable[LoanSnapshot]], start: date, end: date
) -> tuple[TrendPoint, ...]:
    """PAR30 and outstanding principal for each snapshot date from ``start`` to ``end``.

    One point per date and currency (by currency, then date); a currency
    seen on any date of the range has a point on every date of it, zero
    when it had no active loan that day, so each series has no holes.
    """
    check_range(start, end)
    per_date: dict[date, dict[str, list[LoanSnapshot]]] = {
        day: _active_by_currency(rows)
        for day, rows in sorted(rows_by_date.items())
        if start <= day <= end
    }
    currencies = sorted({c for by_currency in per_date.values() for c in by_currency})
    points: list[TrendPoint] = []
    for currency in currencies:
        for day, by_currency in per_date.items():
            active = by_currency.get(currency, [])
            whole = sum(r.outstanding_principal for r in active)
            at_risk = sum(r.outstanding_principal for r in active if r.days_past_due > 30)
            points.append(
                TrendPoint(day, currency, len(active), money(whole, currency),
                           percent(at_risk, whole))
            )
    return tuple(points)


__all__ = [
    "PAR_THRESHOLDS",
    "AgingReport",
    "AgingRow",
    "AgingTotal",
    "AtRiskLoan",
    "Dimension",
    "ParFigure",
    "ParReport",
    "PortfolioFigures",
    "PortfolioGroup",
    "PortfolioSummary",
    "TrendPoint",
    "aging_report",
    "par_report",
    "portfolio_summary",
    "trend",
]
