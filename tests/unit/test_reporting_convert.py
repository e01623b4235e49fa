"""Report requests to queries: the groupings, the legacy GroupBy, and what is refused."""

from __future__ import annotations

import pytest

from microfinance.common.v1 import common_pb2
from microfinance.reporting.v1 import reporting_pb2 as pb
from reporting_service.convert import query
from reporting_service.domain.flows import Granularity
from reporting_service.domain.portfolio import Dimension
from reporting_service.service import Kind
from shared.errors import InvalidArgument


def test_granularity_and_dimension_reach_the_query() -> None:
    q = query(Kind.COLLECTIONS, pb.GetCollectionsReportRequest(
        filter=pb.ReportFilter(agent_id="a1", currency="KES"),
        period=common_pb2.DateRange(from_date="2026-01-01", to_date="2026-01-31"),
        granularity=pb.GRANULARITY_WEEK, dimension=pb.DIMENSION_CHANNEL,
    ))
    assert (q.granularity, q.dimension) == (Granularity.WEEK, Dimension.CHANNEL)
    assert (q.start, q.end, q.agent_id, q.currency) == ("2026-01-01", "2026-01-31", "a1", "KES")


def test_the_first_versions_group_by_still_means_a_dimension() -> None:
    q = query(Kind.DISBURSEMENTS, pb.GetDisbursementReportRequest(group_by=pb.BRANCH))
    assert (q.granularity, q.dimension) == (Granularity.DAY, Dimension.BRANCH)
    # The new field wins over the old one.
    q = query(Kind.DISBURSEMENTS, pb.GetDisbursementReportRequest(
        group_by=pb.BRANCH, dimension=pb.DIMENSION_PRODUCT))
    assert q.dimension is Dimension.PRODUCT


@pytest.mark.parametrize(
    ("kind", "request_", "field"),
    [
        (Kind.DISBURSEMENTS, pb.GetDisbursementReportRequest(dimension=pb.DIMENSION_CHANNEL),
         "dimension"),
        (Kind.COLLECTIONS, pb.GetCollectionsReportRequest(granularity=9),  # type: ignore[arg-type]
         "granularity"),
        (Kind.COLLECTIONS, pb.GetCollectionsReportRequest(dimension=9),  # type: ignore[arg-type]
         "dimension"),
        (Kind.AGENTS, pb.GetAgentPerformanceRequest(
            page=common_pb2.PageRequest(order_by="agent_id")), "page.order_by"),
    ],
)
def test_what_a_report_cannot_do_is_refused_naming_the_field(
    kind: str, request_: object, field: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        query(kind, request_)
    assert str(err.value).startswith(f"{field}:")
