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

from fastapi import Depends, Query, Request, Response
from google.protobuf.message import Message
from pydantic import BaseModel

from api_gateway.convert.common import to_model
from api_gateway.deps import State
from api_gateway.routes import IdFilter, PageSize, PageToken, Router, error_responses
from api_gateway.schemas import reports as rs
from api_gateway.schemas.payments import DATE_PATTERN, ReportFormatName
from api_gateway.security import AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.reporting.v1 import reporting_pb2 as pb
from microfinance.reporting.v1.reporting_pb2_grpc import ReportingServiceStub

router = Router(prefix="/api/v1/reports", tags=["reports"])

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=Message)

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


# ------------------------------------------------------------------ the reports
#
# Every report but par/loans is the same route: its query parameters build the request
# (``build``, a dependency), and it answers the report as JSON, or its CSV export when
# asked. report_route registers one; the builders declare each report's parameters in
# their documented order (dates and grouping first, then the scope, then paging).


def report_route(
    path: str,
    name: str,
    model: type[BaseModel],
    summary: str,
    build: Callable[..., Message],
    rpc: Callable[[ReportingServiceStub], Callable[[Message], Awaitable[Message]]],
) -> None:
    """GET ``path``: ``rpc`` answers what ``build`` asks; ``name`` is its operation and
    its field in ExportReportRequest (the CSV export)."""

    async def report(
        caller: AnyStaff, *, request: Message = Depends(build), reply: Reply
    ) -> BaseModel | Response:
        export = pb.ExportReportRequest()
        getattr(export, name).CopyFrom(request)
        return await reply(export, lambda: rpc(reply.reports)(request), model)

    router.add_api_route(
        path,
        report,
        methods=["GET"],
        name=name,
        response_model=model,
        summary=summary,
        responses=_responses(model),
    )


def _dated(request: Callable[..., R]) -> Callable[..., R]:
    """A report of one closed date."""

    def build(*, as_of: AsOf = None, scope: Scope) -> R:
        return request(filter=scope.filter(as_of))

    return build


def _ranged(request: Callable[..., R]) -> Callable[..., R]:
    """A report of a date range."""

    def build(*, start: From = None, end: To = None, scope: Scope) -> R:
        return request(filter=scope.filter(), period=_period(start, end))

    return build


def _disbursement_dimension(
    dimension: Annotated[rs.DisbursementDimension | None, Query()] = None,
) -> pb.Dimension:
    return _DIMENSION[dimension.value] if dimension else pb.DIMENSION_UNSPECIFIED


def _collection_dimension(
    dimension: Annotated[rs.CollectionDimension | None, Query()] = None,
) -> pb.Dimension:
    return _DIMENSION[dimension.value] if dimension else pb.DIMENSION_UNSPECIFIED


def _grouped(request: Callable[..., R], dimension: Callable[..., pb.Dimension]) -> Callable[..., R]:
    """A report of a date range by day, week or month, and by one dimension if asked."""

    def build(
        *, start: From = None, end: To = None,
        by: Annotated[rs.GroupPeriod, Query()] = rs.GroupPeriod.day,
        group: pb.Dimension = Depends(dimension), scope: Scope,
    ) -> R:
        return request(
            filter=scope.filter(), period=_period(start, end), granularity=_GRANULARITY[by],
            dimension=group,
        )

    return build


def _agents(
    *, as_of: AsOf = None, start: From = None, end: To = None, scope: Scope, page: Page
) -> pb.GetAgentPerformanceRequest:
    return pb.GetAgentPerformanceRequest(
        filter=scope.filter(as_of), period=_period(start, end), page=page
    )


report_route(
    "/portfolio", "portfolio", rs.PortfolioOut,
    "Portfolio as of a closed date, per currency, and by agent, branch and product",
    _dated(pb.GetPortfolioSummaryRequest), lambda r: r.GetPortfolioSummary,
)
report_route(
    "/par", "par", rs.ParOut, "PAR1, PAR30 and PAR90 as of a closed date, per currency",
    _dated(pb.GetParRequest), lambda r: r.GetPar,
)


@router.get(
    "/par/loans",
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


report_route(
    "/aging", "aging", rs.AgingOut,
    "Active loans by days past due bucket as of a closed date, per currency",
    _dated(pb.GetAgingReportRequest), lambda r: r.GetAgingReport,
)
report_route(
    "/disbursements", "disbursements", rs.DisbursementsOut,
    "Loans disbursed in a date range, by day, week or month (and a dimension)",
    _grouped(pb.GetDisbursementReportRequest, _disbursement_dimension),
    lambda r: r.GetDisbursementReport,
)
report_route(
    "/collections", "collections", rs.CollectionsOut,
    "Money received in a date range, by day, week or month (and a dimension)",
    _grouped(pb.GetCollectionsReportRequest, _collection_dimension),
    lambda r: r.GetCollectionsReport,
)
report_route(
    "/collection-efficiency", "collection_efficiency", rs.EfficiencyOut,
    "Collected against due in a date range, per agent and currency",
    _ranged(pb.GetCollectionEfficiencyRequest), lambda r: r.GetCollectionEfficiency,
)
report_route(
    "/agents", "agents", rs.AgentsOut,
    "Per agent: portfolio and PAR30 as of a closed date, collections over a range",
    _agents, lambda r: r.GetAgentPerformance,
)
report_route(
    "/trend", "trend", rs.TrendOut,
    "PAR30 and outstanding principal per closed date of a range, per currency",
    _ranged(pb.GetTrendRequest), lambda r: r.GetTrend,
)
