"""/api/v1/reports: portfolio reports from reporting_service's read models.

Every report answers JSON, or CSV with ``?format=csv`` (or ``Accept:
text/csv``): UTF-8 with a byte-order mark, so spreadsheet programs read it
right, and a file name naming the report and its date. Agents get their own
portfolio only: reporting_service scopes every report from the caller's
token, whatever ``agent_id`` says. A malformed, future or unclosed date,
``from`` after ``to`` and an unknown currency are 422 naming the parameter;
409 means no business date has been closed yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from google.protobuf.message import Message
from pydantic import BaseModel

from api_gateway.convert.common import to_model
from api_gateway.deps import State
from api_gateway.routes import PageSize, PageToken, error_responses
from api_gateway.schemas import reports as rs
from api_gateway.schemas.payments import DATE_PATTERN, ReportFormatName
from api_gateway.security import AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.reporting.v1 import reporting_pb2 as pb
from microfinance.reporting.v1.reporting_pb2_grpc import ReportingServiceStub

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

M = TypeVar("M", bound=BaseModel)

AsOf = Annotated[
    str | None,
    Query(pattern=DATE_PATTERN, description="A closed business date, YYYY-MM-DD; default the "
          "latest closed one."),
]
From = Annotated[
    str | None,
    Query(alias="from", pattern=DATE_PATTERN, description="YYYY-MM-DD, inclusive; default the "
          "first of to's month."),
]
To = Annotated[
    str | None,
    Query(alias="to", pattern=DATE_PATTERN, description="YYYY-MM-DD, inclusive; default today; "
          "never in the future."),
]
Currency = Annotated[
    str | None,
    Query(pattern=r"^[A-Z]{3}$", description="Only this currency; default every currency, "
          "each reported apart."),
]
IdFilter = Annotated[str | None, Query(max_length=64)]
AgentFilter = Annotated[
    str | None, Query(max_length=64, description="Admins only; agents always see their own.")
]
Format = Annotated[
    ReportFormatName | None, Query(alias="format", description="csv, or send Accept: text/csv")
]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 409, 422, 503),
}
_GRANULARITY = {
    rs.GroupPeriod.day: pb.GRANULARITY_DAY,
    rs.GroupPeriod.week: pb.GRANULARITY_WEEK,
    rs.GroupPeriod.month: pb.GRANULARITY_MONTH,
}
_DIMENSION = {
    "agent": pb.DIMENSION_AGENT,
    "branch": pb.DIMENSION_BRANCH,
    "product": pb.DIMENSION_PRODUCT,
    "channel": pb.DIMENSION_CHANNEL,
}


def _responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"model": model, "content": {"application/json": {}, "text/csv": {}}},
        **_RESPONSES,
    }


@dataclass(frozen=True)
class _Scope:
    """The currency, agent, branch and product every report can be narrowed to."""

    currency: str | None
    agent_id: str | None
    branch_id: str | None
    product_id: str | None

    def filter(self, as_of: str | None = None) -> pb.ReportFilter:
        return pb.ReportFilter(
            as_of_date=as_of or "", currency=self.currency or "", agent_id=self.agent_id or "",
            branch_id=self.branch_id or "", product_id=self.product_id or "",
        )


def _scope(
    currency: Currency = None, agent_id: AgentFilter = None, branch_id: IdFilter = None,
    product_id: IdFilter = None,
) -> _Scope:
    return _Scope(currency, agent_id, branch_id, product_id)


def _page(page_size: PageSize = 0, page_token: PageToken = "") -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token)


def _period(start: str | None, end: str | None) -> common_pb2.DateRange:
    return common_pb2.DateRange(from_date=start or "", to_date=end or "")


def _wants_csv(request: Request, fmt: ReportFormatName | None) -> bool:
    if fmt is not None:
        return fmt is ReportFormatName.csv
    return "text/csv" in request.headers.get("accept", "")


@dataclass(frozen=True)
class _Reply:
    """Answers a report as JSON, or as CSV when the caller asked for it."""

    reports: ReportingServiceStub
    csv: bool

    async def __call__(
        self,
        export: pb.ExportReportRequest,
        call: Callable[[], Awaitable[Message]],
        model: type[M],
    ) -> M | Response:
        if self.csv:
            result = await self.reports.ExportReport(export)
            return Response(
                # A byte-order mark, so spreadsheet programs read the text as UTF-8.
                content="\ufeff" + result.csv,
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
            )
        return to_model(model, await call())


def _reply(request: Request, state: State, fmt: Format = None) -> _Reply:
    return _Reply(state.clients.reports, _wants_csv(request, fmt))


# Declared after a route's own parameters, so the documented order stays: dates (and
# grouping) first, then these filters, then paging, then the format.
Scope = Annotated[_Scope, Depends(_scope)]
Page = Annotated[common_pb2.PageRequest, Depends(_page)]
Reply = Annotated[_Reply, Depends(_reply)]


@router.get(
    "/portfolio",
    response_model=rs.PortfolioOut,
    summary="Portfolio as of a closed date, per currency, and by agent, branch and product",
    responses=_responses(rs.PortfolioOut),
)
async def portfolio(
    caller: AnyStaff, *, as_of: AsOf = None, scope: Scope, reply: Reply,
) -> rs.PortfolioOut | Response:
    req = pb.GetPortfolioSummaryRequest(filter=scope.filter(as_of))
    return await reply(
        pb.ExportReportRequest(portfolio=req),
        lambda: reply.reports.GetPortfolioSummary(req), rs.PortfolioOut,
    )


@router.get(
    "/par",
    response_model=rs.ParOut,
    summary="PAR1, PAR30 and PAR90 as of a closed date, per currency",
    responses=_responses(rs.ParOut),
)
async def par(
    caller: AnyStaff, *, as_of: AsOf = None, scope: Scope, reply: Reply,
) -> rs.ParOut | Response:
    req = pb.GetParRequest(filter=scope.filter(as_of))
    return await reply(
        pb.ExportReportRequest(par=req), lambda: reply.reports.GetPar(req), rs.ParOut
    )


@router.get(
    "/par/loans",
    response_model=rs.ParLoansOut,
    summary="The loans behind one PAR figure, highest DPD first, paged",
    responses=error_responses(401, 403, 409, 422, 503),
)
async def par_loans(
    caller: AnyStaff, state: State, *,
    threshold: Annotated[rs.ParThreshold, Query(description="1, 30 or 90")] = rs.ParThreshold.par30,
    as_of: AsOf = None, scope: Scope, page: Page,
) -> rs.ParLoansOut:
    result = await state.clients.reports.GetParLoans(
        pb.GetParLoansRequest(
            filter=scope.filter(as_of), threshold_days=int(threshold.value), page=page
        )
    )
    return to_model(rs.ParLoansOut, result)


@router.get(
    "/aging",
    response_model=rs.AgingOut,
    summary="Active loans by days past due bucket as of a closed date, per currency",
    responses=_responses(rs.AgingOut),
)
async def aging(
    caller: AnyStaff, *, as_of: AsOf = None, scope: Scope, reply: Reply,
) -> rs.AgingOut | Response:
    req = pb.GetAgingReportRequest(filter=scope.filter(as_of))
    return await reply(
        pb.ExportReportRequest(aging=req), lambda: reply.reports.GetAgingReport(req), rs.AgingOut
    )


@router.get(
    "/disbursements",
    response_model=rs.DisbursementsOut,
    summary="Loans disbursed in a date range, by day, week or month (and a dimension)",
    responses=_responses(rs.DisbursementsOut),
)
async def disbursements(
    caller: AnyStaff, *, start: From = None, end: To = None,
    by: Annotated[rs.GroupPeriod, Query()] = rs.GroupPeriod.day,
    dimension: Annotated[rs.DisbursementDimension | None, Query()] = None,
    scope: Scope, reply: Reply,
) -> rs.DisbursementsOut | Response:
    req = pb.GetDisbursementReportRequest(
        filter=scope.filter(), period=_period(start, end), granularity=_GRANULARITY[by],
        dimension=_DIMENSION[dimension.value] if dimension else pb.DIMENSION_UNSPECIFIED,
    )
    return await reply(
        pb.ExportReportRequest(disbursements=req),
        lambda: reply.reports.GetDisbursementReport(req), rs.DisbursementsOut,
    )


@router.get(
    "/collections",
    response_model=rs.CollectionsOut,
    summary="Money received in a date range, by day, week or month (and a dimension)",
    responses=_responses(rs.CollectionsOut),
)
async def collections(
    caller: AnyStaff, *, start: From = None, end: To = None,
    by: Annotated[rs.GroupPeriod, Query()] = rs.GroupPeriod.day,
    dimension: Annotated[rs.CollectionDimension | None, Query()] = None,
    scope: Scope, reply: Reply,
) -> rs.CollectionsOut | Response:
    req = pb.GetCollectionsReportRequest(
        filter=scope.filter(), period=_period(start, end), granularity=_GRANULARITY[by],
        dimension=_DIMENSION[dimension.value] if dimension else pb.DIMENSION_UNSPECIFIED,
    )
    return await reply(
        pb.ExportReportRequest(collections=req),
        lambda: reply.reports.GetCollectionsReport(req), rs.CollectionsOut,
    )


@router.get(
    "/collection-efficiency",
    response_model=rs.EfficiencyOut,
    summary="Collected against due in a date range, per agent and currency",
    responses=_responses(rs.EfficiencyOut),
)
async def collection_efficiency(
    caller: AnyStaff, *, start: From = None, end: To = None, scope: Scope, reply: Reply,
) -> rs.EfficiencyOut | Response:
    req = pb.GetCollectionEfficiencyRequest(filter=scope.filter(), period=_period(start, end))
    return await reply(
        pb.ExportReportRequest(collection_efficiency=req),
        lambda: reply.reports.GetCollectionEfficiency(req), rs.EfficiencyOut,
    )


@router.get(
    "/agents",
    response_model=rs.AgentsOut,
    summary="Per agent: portfolio and PAR30 as of a closed date, collections over a range",
    responses=_responses(rs.AgentsOut),
)
async def agents(
    caller: AnyStaff, *, as_of: AsOf = None, start: From = None, end: To = None,
    scope: Scope, page: Page, reply: Reply,
) -> rs.AgentsOut | Response:
    req = pb.GetAgentPerformanceRequest(
        filter=scope.filter(as_of), period=_period(start, end), page=page
    )
    return await reply(
        pb.ExportReportRequest(agents=req),
        lambda: reply.reports.GetAgentPerformance(req), rs.AgentsOut,
    )


@router.get(
    "/trend",
    response_model=rs.TrendOut,
    summary="PAR30 and outstanding principal per closed date of a range, per currency",
    responses=_responses(rs.TrendOut),
)
async def trend(
    caller: AnyStaff, *, start: From = None, end: To = None, scope: Scope, reply: Reply,
) -> rs.TrendOut | Response:
    req = pb.GetTrendRequest(filter=scope.filter(), period=_period(start, end))
    return await reply(
        pb.ExportReportRequest(trend=req), lambda: reply.reports.GetTrend(req), rs.TrendOut
    )
