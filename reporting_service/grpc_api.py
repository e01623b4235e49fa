"""ReportingService servicer: proto <-> report values, and who may call what.

Every report is open to admins and agents; the use case narrows an agent's
to their own portfolio from the token, whatever the request names. Errors
are domain errors; the server's interceptor maps them to status codes.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from google.protobuf.message import Message
from grpc import aio

from microfinance.reporting.v1 import reporting_pb2 as pb
from microfinance.reporting.v1 import reporting_pb2_grpc
from reporting_service import convert
from reporting_service.service import Kind, Report, ReportingService, csv_of
from shared.errors import InvalidArgument, NotFound
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, Access, access_table
from shared.identity import current_caller
from shared.validation import parse_date

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ReportingService"].full_name

ACCESS: dict[str, Access] = access_table(
    SERVICE_NAME,
    {
        # Agents see their own portfolio; the use case scopes every report.
        "GetPortfolioSummary": ANY_STAFF,
        "GetPar": ANY_STAFF,
        "GetParLoans": ANY_STAFF,
        "GetAgingReport": ANY_STAFF,
        "GetDisbursementReport": ANY_STAFF,
        "GetCollectionsReport": ANY_STAFF,
        "GetCollectionEfficiency": ANY_STAFF,
        "GetAgentPerformance": ANY_STAFF,
        "GetTrend": ANY_STAFF,
        "ExportReport": ANY_STAFF,
        "GetSnapshot": ADMIN_ONLY,
    },
)

Ctx = aio.ServicerContext[Any, Any]
M = TypeVar("M", bound=Message)


def _proto_renderer(
    to_proto: Callable[[Any], Message],
) -> Callable[[Report], str]:
    def render(report: Report) -> str:
        return base64.b64encode(to_proto(report).SerializeToString()).decode()

    render.__name__ = f"proto-{to_proto.__name__}"
    return render


def _csv(report: Report) -> str:
    return csv_of(report)


_csv.__name__ = "csv"

# ExportReport's oneof field -> the report kind.
_EXPORTED = {
    "portfolio": Kind.PORTFOLIO,
    "par": Kind.PAR,
    "aging": Kind.AGING,
    "disbursements": Kind.DISBURSEMENTS,
    "collections": Kind.COLLECTIONS,
    "collection_efficiency": Kind.EFFICIENCY,
    "agents": Kind.AGENTS,
    "trend": Kind.TREND,
}


def _report(
    kind: str, to_proto: Callable[[Any], M], message: type[M]
) -> Callable[[ReportingServicer, Any, Ctx], Awaitable[M]]:
    """The servicer method of one report kind, answered in its proto message."""

    async def answer(servicer: ReportingServicer, request: Any, context: Ctx) -> M:
        return await servicer._answer(kind, request, to_proto, message)

    return answer


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, reports: ReportingService) -> None:
        self._reports = reports

    async def _answer(
        self, kind: str, request: Any, to_proto: Callable[[Any], M], message: type[M]
    ) -> M:
        text = await self._reports.report(
            current_caller(), convert.query(kind, request), _proto_renderer(to_proto)
        )
        return message.FromString(base64.b64decode(text))

    GetPortfolioSummary = _report(
        Kind.PORTFOLIO, convert.portfolio, pb.GetPortfolioSummaryResponse
    )
    GetPar = _report(Kind.PAR, convert.par, pb.GetParResponse)
    GetParLoans = _report(Kind.PAR_LOANS, convert.par_loans, pb.GetParLoansResponse)
    GetAgingReport = _report(Kind.AGING, convert.aging, pb.GetAgingReportResponse)
    GetDisbursementReport = _report(
        Kind.DISBURSEMENTS, convert.disbursements, pb.GetDisbursementReportResponse
    )
    GetCollectionsReport = _report(
        Kind.COLLECTIONS, convert.collections, pb.GetCollectionsReportResponse
    )
    GetCollectionEfficiency = _report(
        Kind.EFFICIENCY, convert.efficiency, pb.GetCollectionEfficiencyResponse
    )
    GetAgentPerformance = _report(Kind.AGENTS, convert.agents, pb.GetAgentPerformanceResponse)
    GetTrend = _report(Kind.TREND, convert.trend, pb.GetTrendResponse)

    async def ExportReport(
        self, request: pb.ExportReportRequest, context: Ctx
    ) -> pb.ExportReportResponse:
        which = request.WhichOneof("report")
        if which is None:
            raise InvalidArgument.field("report", "is required")
        kind = _EXPORTED[which]
        inner = getattr(request, which)
        query = convert.query(kind, inner)
        if kind in (Kind.AGENTS, Kind.PAR):
            # A file holds every row (the PAR file every loan behind each figure); paging is
            # for screens.
            query = replace(query, page_size=0, page_token="", unpaged=True)
        text = await self._reports.report(current_caller(), query, _csv)
        day = query.as_of or (
            f"{query.start}_{query.end}" if query.start or query.end else "latest"
        )
        return pb.ExportReportResponse(filename=f"{kind}-{day}.csv", csv=text)

    async def GetSnapshot(
        self, request: pb.GetSnapshotRequest, context: Ctx
    ) -> pb.GetSnapshotResponse:
        """The portfolio summary and aging of one closed date (NOT_FOUND if not closed)."""
        day = parse_date(request.business_date, "business_date")
        scoped = pb.ReportFilter()
        scoped.CopyFrom(request.filter)
        scoped.as_of_date = day.isoformat()
        try:
            summary = await self._answer(
                Kind.PORTFOLIO, pb.GetPortfolioSummaryRequest(filter=scoped),
                convert.portfolio, pb.GetPortfolioSummaryResponse,
            )
            aging = await self._answer(
                Kind.AGING, pb.GetAgingReportRequest(filter=scoped), convert.aging,
                pb.GetAgingReportResponse,
            )
        except InvalidArgument as exc:
            if str(exc).startswith("as_of:"):
                raise NotFound(f"no closed business date {day.isoformat()}") from None
            raise
        return pb.GetSnapshotResponse(
            snapshot=pb.PortfolioSnapshot(
                business_date=day.isoformat(), summary=summary.summary, aging=aging.buckets
            )
        )
