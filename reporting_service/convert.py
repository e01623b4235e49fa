"""Report values (domain) to their proto messages, and proto requests to report queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from microfinance.common.v1 import common_pb2
from microfinance.reporting.v1 import reporting_pb2 as pb
from reporting_service.domain.flows import (
    CollectionReport,
    CollectionRow,
    DisbursementReport,
    DisbursementRow,
    EfficiencyReport,
    EfficiencyRow,
    Granularity,
)
from reporting_service.domain.portfolio import (
    AgingReport,
    Dimension,
    ParReport,
    PortfolioFigures,
)
from reporting_service.service import (
    AgentsView,
    Kind,
    ParLoansPage,
    PortfolioView,
    ReportQuery,
    TrendView,
)
from shared.errors import InvalidArgument
from shared.money import Money, to_proto
from shared.portfolio import BUCKETS

R = TypeVar("R")
P = TypeVar("P")

_GRANULARITY = {
    pb.GRANULARITY_DAY: Granularity.DAY,
    pb.GRANULARITY_WEEK: Granularity.WEEK,
    pb.GRANULARITY_MONTH: Granularity.MONTH,
}
_DIMENSION = {
    pb.DIMENSION_AGENT: Dimension.AGENT,
    pb.DIMENSION_BRANCH: Dimension.BRANCH,
    pb.DIMENSION_PRODUCT: Dimension.PRODUCT,
    pb.DIMENSION_CHANNEL: Dimension.CHANNEL,
}
_LEGACY_GROUP = {
    pb.AGENT: Dimension.AGENT,
    pb.BRANCH: Dimension.BRANCH,
    pb.PRODUCT: Dimension.PRODUCT,
}


def query(kind: str, request: Any) -> ReportQuery:
    """Any Get*Request (they share filter, period, page) to a ReportQuery."""
    f: pb.ReportFilter = getattr(request, "filter")  # noqa: B009 - all requests have one
    q = ReportQuery(
        kind=kind, as_of=f.as_of_date, currency=f.currency, agent_id=f.agent_id,
        branch_id=f.branch_id, product_id=f.product_id,
    )
    fields: dict[str, object] = {}
    if hasattr(request, "period"):
        fields["start"] = request.period.from_date
        fields["end"] = request.period.to_date
    if hasattr(request, "page"):
        fields["page_size"] = request.page.page_size
        fields["page_token"] = request.page.page_token
        if request.page.order_by.strip():
            raise InvalidArgument.field("page.order_by", "is not accepted by reports")
    if hasattr(request, "granularity"):
        granularity = int(request.granularity)
        if granularity and granularity not in _GRANULARITY:
            raise InvalidArgument.field("granularity", "is not a known granularity")
        fields["granularity"] = _GRANULARITY.get(granularity, Granularity.DAY)  # type: ignore[call-overload]
        dimension = int(request.dimension)
        if dimension and dimension not in _DIMENSION:
            raise InvalidArgument.field("dimension", "is not a known dimension")
        legacy = int(request.group_by)
        fields["dimension"] = _DIMENSION.get(dimension) or _LEGACY_GROUP.get(legacy)  # type: ignore[call-overload]
        if kind == Kind.DISBURSEMENTS and fields["dimension"] is Dimension.CHANNEL:
            raise InvalidArgument.field("dimension", "disbursements have no channel")
    if hasattr(request, "threshold_days"):
        fields["threshold_days"] = request.threshold_days
    return replace(q, **fields)  # type: ignore[arg-type]


def _m(value: Money) -> common_pb2.Money:
    return to_proto(value)


def _summary(
    as_of: str, f: PortfolioFigures, balance: tuple[int, int, int, int],
    par: list[pb.ParMetric],
) -> pb.PortfolioSummary:
    cur = f.currency
    fees, penalties, arrears, late = balance
    total = (f.outstanding_principal.amount_minor + f.interest_receivable.amount_minor
             + fees + penalties)
    return pb.PortfolioSummary(
        as_of_date=as_of, currency=cur, active_loans=f.active_loans,
        active_borrowers=f.borrowers, outstanding_principal=_m(f.outstanding_principal),
        outstanding_interest=_m(f.interest_receivable),
        outstanding_fees=to_proto(Money(fees, cur)),
        outstanding_penalties=to_proto(Money(penalties, cur)),
        total_outstanding=to_proto(Money(total, cur)),
        disbursed_amount=_m(f.disbursed), collected_amount=_m(f.collected),
        written_off_amount=_m(f.written_off), recovered_amount=_m(f.recovered),
        arrears_amount=to_proto(Money(arrears, cur)), loans_in_arrears=late, par=par,
        loans_pending_approval=f.pending_approval,
        loans_approved_not_disbursed=f.approved_not_disbursed,
    )


def _par_metrics(report: ParReport, currency: str) -> list[pb.ParMetric]:
    return [
        pb.ParMetric(
            threshold_days=f.threshold_days, at_risk_principal=_m(f.at_risk_principal),
            loan_count=f.loan_count, percent=f.percent,
            outstanding_principal=_m(f.outstanding_principal),
        )
        for f in report.figures
        if f.currency == currency
    ]


def portfolio(view: PortfolioView) -> pb.GetPortfolioSummaryResponse:
    day = view.summary.as_of.isoformat()
    none = (0, 0, 0, 0)
    summaries = [
        _summary(day, f, view.balances.get(("total", "", f.currency), none),
                 _par_metrics(view.par, f.currency))
        for f in view.summary.totals
    ]
    groups = [
        pb.PortfolioGroup(
            dimension=g.dimension.value, key=g.key,
            summary=_summary(
                day, g.figures,
                view.balances.get((g.dimension.value, g.key, g.figures.currency), none), [],
            ),
        )
        for g in view.summary.groups
    ]
    response = pb.GetPortfolioSummaryResponse(summaries=summaries, groups=groups)
    if summaries:
        response.summary.CopyFrom(summaries[0])
    else:
        response.summary.as_of_date = day
    return response


def par(report: ParReport) -> pb.GetParResponse:
    currencies = sorted({f.currency for f in report.figures})
    response = pb.GetParResponse(
        as_of_date=report.as_of.isoformat(),
        par=[m for c in currencies for m in _par_metrics(report, c)],
    )
    if report.figures:
        response.outstanding_principal.CopyFrom(to_proto(report.figures[0].outstanding_principal))
    return response


def par_loans(page: ParLoansPage) -> pb.GetParLoansResponse:
    return pb.GetParLoansResponse(
        as_of_date=page.as_of.isoformat(), threshold_days=page.threshold_days,
        loans=[
            pb.ParLoan(
                loan_id=loan.loan_id, loan_number=page.loan_numbers.get(loan.loan_id, ""),
                agent_id=loan.agent_id, days_past_due=loan.days_past_due,
                outstanding_principal=_m(loan.outstanding_principal),
            )
            for loan in page.loans
        ],
        page=common_pb2.PageInfo(next_page_token=page.next_page_token, total_size=page.total),
    )


def aging(report: AgingReport) -> pb.GetAgingReportResponse:
    bounds = {b: (b.min_days, b.max_days or 0) for b in BUCKETS}
    response = pb.GetAgingReportResponse(
        as_of_date=report.as_of.isoformat(),
        buckets=[
            pb.AgingBucket(
                label=r.bucket.value, min_days=bounds[r.bucket][0], max_days=bounds[r.bucket][1],
                loan_count=r.loan_count, outstanding_principal=_m(r.outstanding_principal),
                arrears_amount=_m(r.arrears_amount), percent=r.percent, currency=r.currency,
            )
            for r in report.rows
        ],
        totals=[
            pb.AgingBucket(
                label="total", loan_count=t.loan_count,
                outstanding_principal=_m(t.outstanding_principal),
                arrears_amount=_m(t.arrears_amount),
                percent="100.00" if t.outstanding_principal.amount_minor else "0.00",
                currency=t.currency,
            )
            for t in report.totals
        ],
    )
    if report.totals:
        response.outstanding_principal.CopyFrom(to_proto(report.totals[0].outstanding_principal))
    return response


def _grouped(
    row: Callable[[R], P], rows: Sequence[R], totals: Sequence[R]
) -> tuple[list[P], list[P], P | None]:
    """Rows, per-currency totals, and the first total (the single ``total`` field)."""
    total_rows = [row(t) for t in totals]
    return [row(r) for r in rows], total_rows, total_rows[0] if total_rows else None


def _disbursement_row(r: DisbursementRow) -> pb.DisbursementRow:
    return pb.DisbursementRow(
        key=r.key, label=r.key or r.period, loan_count=r.loan_count,
        principal_amount=_m(r.principal), fee_amount=_m(r.upfront_fees),
        net_disbursed_amount=_m(r.net_disbursed), period=r.period, currency=r.currency,
    )


def disbursements(report: DisbursementReport) -> pb.GetDisbursementReportResponse:
    rows, totals, total = _grouped(_disbursement_row, report.rows, report.totals)
    return pb.GetDisbursementReportResponse(rows=rows, totals=totals, total=total)


def _collection_row(r: CollectionRow) -> pb.CollectionsRow:
    return pb.CollectionsRow(
        key=r.key, label=r.key or r.period, payment_count=r.payment_count,
        collected_amount=_m(r.collected), principal_amount=_m(r.principal),
        interest_amount=_m(r.interest), fee_amount=_m(r.fees), penalty_amount=_m(r.penalties),
        recovery_amount=_m(r.recoveries), reversed_amount=_m(r.reversed),
        period=r.period, currency=r.currency, reversed_count=r.reversed_count,
    )


def collections(report: CollectionReport) -> pb.GetCollectionsReportResponse:
    rows, totals, total = _grouped(_collection_row, report.rows, report.totals)
    return pb.GetCollectionsReportResponse(rows=rows, totals=totals, total=total)


def _efficiency_row(r: EfficiencyRow) -> pb.EfficiencyRow:
    return pb.EfficiencyRow(
        agent_id=r.agent_id, currency=r.currency, due=_m(r.due),
        collected_due=_m(r.collected_due), arrears_collected=_m(r.arrears_collected),
        prepaid=_m(r.prepaid), penalties_collected=_m(r.penalties_collected), rate=r.rate or "",
    )


def efficiency(report: EfficiencyReport) -> pb.GetCollectionEfficiencyResponse:
    return pb.GetCollectionEfficiencyResponse(
        from_date=report.start.isoformat(), to_date=report.end.isoformat(),
        rows=[_efficiency_row(r) for r in report.rows],
        totals=[_efficiency_row(r) for r in report.totals],
    )


def agents(view: AgentsView) -> pb.GetAgentPerformanceResponse:
    rows = []
    for r in view.rows:
        key = (r.agent_id, r.currency)
        count, disbursed, due, collected = view.flows.get(key, (0, 0, 0, 0))
        branch, late = view.book.get(key, ("", 0))
        rows.append(pb.AgentPerformanceRow(
            agent_id=r.agent_id, branch_id=branch, borrowers=r.borrowers,
            active_loans=r.active_loans, outstanding_principal=_m(r.outstanding_principal),
            loans_disbursed=count, disbursed_amount=to_proto(Money(disbursed, r.currency)),
            collected_amount=to_proto(Money(collected, r.currency)),
            expected_amount=to_proto(Money(due, r.currency)),
            collection_rate=r.collection_rate or "", loans_in_arrears=late,
            par30_percent=r.par30, currency=r.currency, at_risk_30=_m(r.at_risk_30),
        ))
    return pb.GetAgentPerformanceResponse(
        rows=rows,
        page=common_pb2.PageInfo(next_page_token=view.next_page_token, total_size=view.total),
    )


def trend(view: TrendView) -> pb.GetTrendResponse:
    return pb.GetTrendResponse(points=[
        pb.TrendPoint(
            business_date=p.business_date.isoformat(), currency=p.currency,
            active_loans=p.active_loans, outstanding_principal=_m(p.outstanding_principal),
            par30_percent=p.par30,
        )
        for p in view.points
    ])
