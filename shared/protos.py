"""Conversions between protobuf well-known/common types and Python values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.allocation import AllocationParts
from shared.money import to_proto
from shared.paging import Page, encode_token, page_of

P = TypeVar("P", bound=Message)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> Timestamp | None:
    """A naive ``value`` is taken as UTC. The same as ``Timestamp.FromDatetime``, at a
    quarter of its cost (it is pure Python, and every reply carries a few of these)."""
    if value is None:
        return None
    since = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
    return Timestamp(
        seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000
    )


def _money(amount_minor: int, currency: str) -> common_pb2.Money:
    # shared.money.to_proto imports the protos lazily (domain code imports that module);
    # here they are loaded already.
    return common_pb2.Money(amount_minor=amount_minor, currency=currency)


Convert = Callable[[Any, str | None], Any]
_MONEY = common_pb2.Money.DESCRIPTOR.full_name
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name


def _scalar(value: Any, currency: str | None) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _timestamp(value: Any, currency: str | None) -> Any:
    return timestamp(value)


def _converter(field: Any) -> Convert:
    # field: a FieldDescriptor (of the pure-Python or the upb implementation).
    kind = field.message_type.full_name if field.message_type is not None else None
    name = field.full_name
    if kind == _MONEY:

        def money(value: Any, currency: str | None) -> Any:
            if not isinstance(value, int):
                return to_proto(value)  # a Money value
            if currency is None:
                raise TypeError(f"{name}: an amount in minor units needs its currency")
            return _money(value, currency)

        return money
    if kind == _TIMESTAMP:
        return _timestamp
    if kind is not None or field.is_repeated:

        def refuse(value: Any, currency: str | None) -> Any:
            raise TypeError(f"{name}: give it, it is not read by name")

        return refuse
    return _scalar


@cache
def _plan(descriptor: Any) -> tuple[tuple[str, Convert], ...]:
    """Each field's name and conversion, worked out once per message type: reading a
    descriptor's attributes allocates, and these conversions run on every call."""
    return tuple((field.name, _converter(field)) for field in descriptor.fields)


def message_of(
    message: type[P], source: object, currency: str | None = None, /, **given: Any
) -> P:
    """``message`` with each field read from the attribute of ``source`` of the same name.

    Amounts in minor units become Money in ``currency`` (Money values stay as they
    are), dates ISO text, instants Timestamps and enums their value; an attribute that is
    None, or that ``source`` does not have, leaves the field unset. ``given`` fields are
    taken as they are; other nested messages and lists must be given.
    """
    values: dict[str, Any] = {}
    for name, convert in _plan(message.DESCRIPTOR):
        if name in given:
            continue
        value = getattr(source, name, None)
        if value is not None:
            values[name] = convert(value, currency)
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


def allocation_proto(allocation: AllocationParts, currency: str) -> loan_pb2.Allocation:
    c = currency
    return loan_pb2.Allocation(
        penalty=_money(allocation.penalty, c),
        fee=_money(allocation.fee, c),
        interest=_money(allocation.interest, c),
        principal=_money(allocation.principal, c),
        recovery=_money(allocation.recovery, c),
        total=_money(allocation.total, c),
        interest_waived=_money(allocation.interest_waived, c),
        installments=[
            loan_pb2.InstallmentAllocation(
                installment_number=part.installment_number,
                penalty=_money(part.penalty, c),
                fee=_money(part.fee, c),
                interest=_money(part.interest, c),
                principal=_money(part.principal, c),
            )
            for part in allocation.installments
        ],
    )
