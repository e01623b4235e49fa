"""The relay's wire form of a stored event is exactly what ``Event.to_message()`` sends.

The relay publishes with aiormq from the outbox document (``wire_of_doc``), without an
``Event`` or an ``aio_pika.Message``, and marshals the content header's properties by
hand; consumers must not see a byte of difference.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiormq
import pytest

from shared.events import Event
from shared.events.envelope import wire
from shared.events.outbox import event_from_doc, wire_of_doc

EVENTS = [
    Event("loan.disbursed", "loan-1", {"amount_minor": 150_000, "currency": "KES"},
          producer="loan_service", request_id="req-1"),
    Event("payment.posted", "P-é✓", {"ü": "ß", "nested": {"a": [1, 2, None, True]}}),
    Event("a.b", "x" * 300, {}, producer="p" * 255, request_id="r" * 255,
          occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=3)))),
    Event("loan.snapshots", "2026-12-06", {"rows": list(range(50))}, version=3,
          occurred_at=datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
]  # fmt: skip


def _stored(event: Event) -> dict[str, Any]:
    """The outbox document as MongoDB gives it back: naive UTC, milliseconds."""
    occurred = event.occurred_at.astimezone(UTC).replace(tzinfo=None)
    return {
        "_id": event.id,
        **{k: v for k, v in event.to_json().items() if k != "id"},
        "occurred_at": occurred.replace(microsecond=occurred.microsecond // 1000 * 1000),
        "status": "pending",
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_wire_is_what_to_message_sends(event: Event) -> None:
    body, properties = wire(
        event.id, event.type, event.aggregate_id, event.occurred_at, event.payload,
        event.request_id, event.producer, event.version,
    )  # fmt: skip
    message = event.to_message()
    assert body == message.body == event.to_bytes()
    assert properties == message.properties
    assert properties.marshal() == message.properties.marshal()
    # And the hand-made marshal agrees with pamqp's generic one on the same object.
    assert properties.marshal() == aiormq.spec.Basic.Properties.marshal(properties)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_wire_of_a_stored_event(event: Event) -> None:
    doc = _stored(event)
    body, properties = wire_of_doc(doc)
    message = event_from_doc(doc).to_message()
    assert body == message.body
    assert properties.marshal() == message.properties.marshal()
    assert Event.from_bytes(body).id == event.id
