"""ReportingService servicer and who may call what."""

from __future__ import annotations

from microfinance.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, Access, access_table

SERVICE_NAME = reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name

ACCESS: dict[str, Access] = access_table(
    SERVICE_NAME,
    {
        "GetPortfolioSummary": ADMIN_ONLY,
        "GetPar": ADMIN_ONLY,
        "GetAgingReport": ADMIN_ONLY,
        "GetDisbursementReport": ADMIN_ONLY,
        "GetCollectionsReport": ADMIN_ONLY,
        "GetSnapshot": ADMIN_ONLY,
        # An agent sees their own figures; the use case scopes them.
        "GetAgentPerformance": ANY_STAFF,
    },
)


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    """Portfolio reports; the behaviour arrives with the reporting issue."""
