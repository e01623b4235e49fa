"""shared/protos.py: the conversions every servicer uses, against protobuf's own."""

from __future__ import annotations

import types
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from microfinance.common.v1 import common_pb2
from microfinance.payment.v1 import payment_pb2
from shared.protos import message_of, timestamp


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 17, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 17, 30, 1, 123456),  # naive: UTC
        datetime(2026, 3, 1, 0, 0, tzinfo=timezone(timedelta(hours=3))),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamp_is_protobufs_own(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    assert timestamp(value) == expected
    assert timestamp(None) is None


def test_message_of_reads_fields_by_name() -> None:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    source = types.SimpleNamespace(
        id="p1",
        amount=common_pb2.Money(amount_minor=5, currency="KES"),
        value_date=date(2026, 12, 1),
        posted_at=at,
        note=None,  # None leaves the field unset
        version=3,
    )
    message = message_of(payment_pb2.Payment, source, "USD", receipt_number="RC-1")
    assert message.id == "p1"
    assert message.amount == common_pb2.Money(amount_minor=5, currency="KES")
    assert message.value_date == "2026-12-01"
    assert message.posted_at == timestamp(at)
    assert message.receipt_number == "RC-1"
    assert message.note == ""
    assert message.version == 3
    minor = message_of(payment_pb2.Payment, types.SimpleNamespace(amount=7), "USD")
    assert minor.amount == common_pb2.Money(amount_minor=7, currency="USD")
    with pytest.raises(TypeError, match="needs its currency"):
        message_of(payment_pb2.Payment, types.SimpleNamespace(amount=7))
    with pytest.raises(TypeError, match="not read by name"):
        message_of(payment_pb2.Payment, types.SimpleNamespace(allocation=object()))
