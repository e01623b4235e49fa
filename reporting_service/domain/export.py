"""CSV text of each report: header line, then one line per row, pure.

Amounts are exact, in major units with the currency's digits ("1234.50"
KES, "1234" UGX), each next to its currency column. Rates are the reports'
percent strings; an absent rate is an empty cell. Text cells that a
spreadsheet would run as a formula get a leading apostrophe. Lines end with
CRLF (RFC 4180); the HTTP layer adds a byte-order mark if it wants one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from reporting_service.domain.flows import (
    AgentPerformance,
    CollectionReport,
    DisbursementReport,
    EfficiencyReport,
)
from reporting_service.domain.portfolio import (
    AgingReport,
    ParReport,
    PortfolioSummary,
    TrendPoint,
)
from shared.money import Money

Cell = str | int


def major(amount: Money) -> str:
    """1234 USD cents -> "12.34"; 0 -> "0.00"; 1234 UGX -> "1234"."""
    return f"{amount.to_decimal():.{amount.exponent}f}"


def text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _render(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def portfolio_csv(summary: PortfolioSummary) -> str:
    """The totals (dimension "total"), then the agent, branch and product groups."""
    header = ("as_of", "dimension", "key", "currency", "active_loans", "borrowers",
              "outstanding_principal", "interest_receivable", "disbursed", "collected",
              "written_off", "recovered", "pending_approval", "approved_not_disbursed")
    lines = [("total", "", f) for f in summary.totals] + [
        (g.dimension.value, g.key, g.figures) for g in summary.groups
    ]
    return _render(header, (
        (summary.as_of.isoformat(), dimension, text(key), f.currency, f.active_loans,
         f.borrowers, major(f.outstanding_principal), major(f.interest_receivable),
         major(f.disbursed), major(f.collected), major(f.written_off), major(f.recovered),
         f.pending_approval, f.approved_not_disbursed)
        for dimension, key, f in lines
    ))


def par_csv(report: ParReport) -> str:
    """One line per figure, then (after the figures) one line per loan behind each."""
    header = ("as_of", "threshold_days", "currency", "at_risk_principal",
              "outstanding_principal", "percent", "loan_count", "loan_id", "agent_id",
              "days_past_due", "loan_outstanding_principal")
    day = report.as_of.isoformat()
    figures: list[Sequence[Cell]] = [
        (day, f.threshold_days, f.currency, major(f.at_risk_principal),
         major(f.outstanding_principal), f.percent, f.loan_count, "", "", "", "")
        for f in report.figures
    ]
    loans: list[Sequence[Cell]] = [
        (day, f.threshold_days, f.currency, "", "", "", "", text(loan.loan_id),
         text(loan.agent_id), loan.days_past_due, major(loan.outstanding_principal))
        for f in report.figures
        for loan in f.loans
    ]
    return _render(header, figures + loans)


def aging_csv(report: AgingReport) -> str:
    header = ("as_of", "currency", "bucket", "min_days", "max_days", "loan_count",
              "outstanding_principal", "arrears_amount", "percent")
    day = report.as_of.isoformat()
    return _render(header, (
        (day, r.currency, r.bucket.value, r.bucket.min_days,
         "" if r.bucket.max_days is None else r.bucket.max_days, r.loan_count,
         major(r.outstanding_principal), major(r.arrears_amount), r.percent)
        for r in report.rows
    ))


def disbursements_csv(report: DisbursementReport) -> str:
    """Rows, then one "total" line per currency."""
    header = ("period", "key", "currency", "loan_count", "principal", "upfront_fees",
              "net_disbursed")
    return _render(header, (
        (r.period or "total", text(r.key), r.currency, r.loan_count, major(r.principal),
         major(r.upfront_fees), major(r.net_disbursed))
        for r in (*report.rows, *report.totals)
    ))


def collections_csv(report: CollectionReport) -> str:
    header = ("period", "key", "currency", "payment_count", "collected", "principal",
              "interest", "fees", "penalties", "recoveries", "reversed_count", "reversed")
    return _render(header, (
        (r.period or "total", text(r.key), r.currency, r.payment_count, major(r.collected),
         major(r.principal), major(r.interest), major(r.fees), major(r.penalties),
         major(r.recoveries), r.reversed_count, major(r.reversed))
        for r in (*report.rows, *report.totals)
    ))


def efficiency_csv(report: EfficiencyReport) -> str:
    header = ("from", "to", "agent_id", "currency", "due", "collected_due",
              "arrears_collected", "prepaid", "penalties_collected", "rate")
    start, end = report.start.isoformat(), report.end.isoformat()
    return _render(header, (
        (start, end, text(r.agent_id) or "total", r.currency, major(r.due),
         major(r.collected_due), major(r.arrears_collected), major(r.prepaid),
         major(r.penalties_collected), r.rate or "")
        for r in (*report.rows, *report.totals)
    ))


def agents_csv(rows: Iterable[AgentPerformance]) -> str:
    header = ("agent_id", "currency", "borrowers", "active_loans", "outstanding_principal",
              "at_risk_30", "par30", "collection_rate")
    return _render(header, (
        (text(r.agent_id), r.currency, r.borrowers, r.active_loans,
         major(r.outstanding_principal), major(r.at_risk_30), r.par30,
         r.collection_rate or "")
        for r in rows
    ))


def trend_csv(points: Iterable[TrendPoint]) -> str:
    header = ("business_date", "currency", "active_loans", "outstanding_principal", "par30")
    return _render(header, (
        (p.business_date.isoformat(), p.currency, p.active_loans,
         major(p.outstanding_principal), p.par30)
        for p in points
    ))


__all__ = [
    "agents_csv",
    "aging_csv",
    "collections_csv",
    "disbursements_csv",
    "efficiency_csv",
    "major",
    "par_csv",
    "portfolio_csv",
    "text",
    "trend_csv",
]
