"""Conversions between protobuf well-known/common types and Python values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.money import to_proto
from shared.paging import Page, encode_token, page_of

P = TypeVar("P", bound=Message)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def _field_value(field: Any, value: Any, currency: str | None) -> Any:
    # field: a FieldDescriptor (of the pure-Python or the upb implementation).
    kind = field.message_type.full_name if field.message_type is not None else None
    if kind == common_pb2.Money.DESCRIPTOR.full_name:
        if not isinstance(value, int):
            return to_proto(value)  # a Money value
        if currency is None:
            raise TypeError(f"{field.full_name}: an amount in minor units needs its currency")
        return to_proto(value, currency)
    if kind == Timestamp.DESCRIPTOR.full_name:
        return timestamp(value)
    if kind is not None or field.is_repeated:
        raise TypeError(f"{field.full_name}: give it, it is not read by name")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def message_of(
    message: type[P], source: object, currency: str | None = None, /, **given: Any
) -> P:
    """``message`` with each field read from the attribute of ``source`` of the same name.

    Amounts in minor units become Money in ``currency`` (Money values stay as they
    are), dates ISO text, instants Timestamps and enums their value; an attribute that is
    None, or that ``source`` does not have, leaves the field unset. ``given`` fields are
    taken as they are; other nested messages and lists must be given.
    """
    values = {
        field.name: _field_value(field, getattr(source, field.name), currency)
        for field in message.DESCRIPTOR.fields
        if field.name not in given and getattr(source, field.name, None) is not None
    }
    return message(**values, **given)


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


def search_page_info(page: Page, total: int) -> common_pb2.PageInfo:
    """A page of ranked search results: the next page follows what the index matched, not
    how many of those hits survived re-scoping on the stored records."""
    end = page.offset + page.size
    return common_pb2.PageInfo(
        next_page_token=encode_token(end) if end < total else "", total_size=total
    )


class _Shares(Protocol):
    """Where money went, in minor units: alike for a payment and one installment of it."""

    @property
    def penalty(self) -> int: ...
    @property
    def fee(self) -> int: ...
    @property
    def interest(self) -> int: ...
    @property
    def principal(self) -> int: ...


class InstallmentShare(_Shares, Protocol):
    @property
    def installment_number(self) -> int: ...


class AllocationParts(_Shares, Protocol):
    """A payment's allocation as loan_service computes it and payment_service keeps it."""

    @property
    def recovery(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def interest_waived(self) -> int: ...
    @property
    def installments(self) -> Sequence[InstallmentShare]: ...


def allocation_proto(allocation: AllocationParts, currency: str) -> loan_pb2.Allocation:
    c = currency
    return loan_pb2.Allocation(
        penalty=to_proto(allocation.penalty, c),
        fee=to_proto(allocation.fee, c),
        interest=to_proto(allocation.interest, c),
        principal=to_proto(allocation.principal, c),
        recovery=to_proto(allocation.recovery, c),
        total=to_proto(allocation.total, c),
        interest_waived=to_proto(allocation.interest_waived, c),
        installments=[
            loan_pb2.InstallmentAllocation(
                installment_number=part.installment_number,
                penalty=to_proto(part.penalty, c),
                fee=to_proto(part.fee, c),
                interest=to_proto(part.interest, c),
                principal=to_proto(part.principal, c),
            )
            for part in allocation.installments
        ],
    )
