"""Conversions between protobuf well-known/common types and Python values."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from microfinance.common.v1 import common_pb2
from shared.paging import Page, page_of


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def audit(
    created_by: str, created_at: datetime | None, updated_by: str, updated_at: datetime | None
) -> common_pb2.Audit:
    return common_pb2.Audit(
        created_by=created_by,
        created_at=timestamp(created_at),
        updated_by=updated_by,
        updated_at=timestamp(updated_at),
    )


def page_request(
    request: common_pb2.PageRequest,
    allowed: dict[str, str],
    default: list[tuple[str, int]],
) -> Page:
    return page_of(request.page_size, request.page_token, request.order_by, allowed, default)


def page_info(page: Page, returned: int, total: int) -> common_pb2.PageInfo:
    return common_pb2.PageInfo(next_page_token=page.next_token(returned, total), total_size=total)
