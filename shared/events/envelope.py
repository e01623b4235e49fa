"""The event envelope: what happened, to which aggregate, when, and who said so."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq

from shared.clock import utcnow
from shared.logging import request_id_var

EVENT_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True, slots=True)
class Event:
    """What happened, to which aggregate, when, and who said so.

    ``payload`` holds JSON values only (amounts as integer minor units,
    rates and dates as strings) so the same dict travels through Mongo and AMQP.
    """

    type: str
    aggregate_id: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=utcnow)
    request_id: str = field(default_factory=request_id_var.get)
    producer: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        if not EVENT_TYPE_RE.fullmatch(self.type):
            raise ValueError(f"event type {self.type!r} must look like 'loan.disbursed'")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        json.dumps(self.payload)  # fail at the producer, not in the relay

    def to_json(self) -> dict[str, Any]:
        return _json_of(
            self.id, self.type, self.aggregate_id, self.occurred_at, self.payload,
            self.request_id, self.producer, self.version,
        )  # fmt: skip

    def to_bytes(self) -> bytes:
        return _dumps(self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        occurred = datetime.fromisoformat(str(data["occurred_at"]))
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        return cls(
            type=str(data["type"]),
            aggregate_id=str(data["aggregate_id"]),
            payload=dict(data.get("payload") or {}),
            id=str(data["id"]),
            occurred_at=occurred,
            request_id=str(data.get("request_id") or ""),
            producer=str(data.get("producer") or ""),
            version=int(data.get("version") or 1),
        )

    @classmethod
    def from_bytes(cls, body: bytes) -> Event:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("event body is not a JSON object")
        return cls.from_json(data)

    def to_message(self) -> aio_pika.Message:
        return aio_pika.Message(
            body=self.to_bytes(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=self.id,
            type=self.type,
            timestamp=self.occurred_at,
            app_id=self.producer or None,
            correlation_id=self.request_id or None,
            headers={"aggregate_id": self.aggregate_id},
        )


_dumps_json = json.JSONEncoder(separators=(",", ":")).encode


def _dumps(data: dict[str, Any]) -> bytes:
    return _dumps_json(data).encode()


def _json_of(
    id: str,
    type: str,
    aggregate_id: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    request_id: str,
    producer: str,
    version: int,
) -> dict[str, Any]:
    return {
        "id": id,
        "type": type,
        "aggregate_id": aggregate_id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "payload": payload,
        "request_id": request_id,
        "producer": producer,
        "version": version,
    }


def wire(
    id: str,
    type: str,
    aggregate_id: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    request_id: str,
    producer: str,
    version: int,
    trace: Mapping[str, str] | None = None,
) -> tuple[bytes, aiormq.spec.Basic.Properties]:
    """What ``Event(...).to_message()`` puts on the wire (its body and properties), built
    without the ``Event`` (its checks ran when it was made) nor an ``aio_pika.Message``:
    the relay publishes stored events this way, with aiormq. ``trace``: the W3C trace
    context stored with the event, sent as headers (``traceparent``, ``tracestate``)."""
    body = _dumps(
        _json_of(id, type, aggregate_id, occurred_at, payload, request_id, producer, version)
    )
    headers: dict[str, Any] = {"aggregate_id": aggregate_id}
    if trace:
        headers.update(trace)
    properties = aiormq.spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=2,  # persistent
        priority=0,
        correlation_id=request_id or None,
        message_id=id,
        timestamp=occurred_at,
        message_type=type,
        app_id=producer or None,
        headers=headers,
    )
    return body, properties
