"""The transactional outbox: events stored with the state change that caused them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession

from shared.events.envelope import Event
from shared.mongo import Database, IndexRegistry

OUTBOX_COLLECTION = "outbox"
PENDING, SENT = "pending", "sent"


def outbox_indexes(collection: str = OUTBOX_COLLECTION) -> IndexRegistry:
    """Indexes the outbox needs; merge into the service's IndexRegistry."""
    return IndexRegistry(
        {
            collection: [
                IndexModel([("status", ASCENDING), ("order", ASCENDING)], name="pending_in_order"),
                IndexModel(
                    [("aggregate_id", ASCENDING), ("order", ASCENDING)], name="by_aggregate"
                ),
            ]
        }
    )


class Outbox:
    """Stores events in the service's ``outbox`` collection, inside the caller's transaction."""

    def __init__(self, db: Database, producer: str, collection: str = OUTBOX_COLLECTION) -> None:
        self.db = db
        self.producer = producer
        self.collection = db[collection]
        self.lease_collection = db[f"{collection}_lease"]
        self._wakers: list[asyncio.Event] = []

    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Event:
        return Event(event_type, aggregate_id, payload, producer=self.producer)

    async def add(self, session: AsyncClientSession | None, events: Iterable[Event]) -> None:
        """Insert ``events`` with ``session`` so they commit or abort with the state change.

        Call ``notify()`` after the commit so the relay publishes at once
        (without it they go out on the relay's next poll).
        """
        docs = []
        for event in events:
            doc = {
                "_id": event.id,
                **{k: v for k, v in event.to_json().items() if k != "id"},
                "occurred_at": event.occurred_at,
                "producer": event.producer or self.producer,
                # ObjectIds grow with time and per process: a cheap publish order.
                "order": ObjectId(),
                "status": PENDING,
                "attempts": 0,
            }
            docs.append(doc)
        if docs:
            await self.collection.insert_many(docs, ordered=True, session=session)
            if session is None:
                self.notify()

    async def emit(
        self,
        event_type: str,
        aggregate_id: str,
        payload: dict[str, Any],
        session: AsyncClientSession | None = None,
    ) -> Event:
        """Record one event; without a session it is its own atomic write."""
        event = self.new_event(event_type, aggregate_id, payload)
        await self.add(session, [event])
        return event

    def notify(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def pending_count(self) -> int:
        return await self.collection.count_documents({"status": PENDING})

    def _register(self, waker: asyncio.Event) -> None:
        self._wakers.append(waker)

    def _unregister(self, waker: asyncio.Event) -> None:
        with contextlib.suppress(ValueError):
            self._wakers.remove(waker)


def event_from_doc(doc: dict[str, Any]) -> Event:
    occurred = doc["occurred_at"]
    if isinstance(occurred, datetime) and occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return Event(
        type=doc["type"],
        aggregate_id=doc["aggregate_id"],
        payload=doc.get("payload") or {},
        id=str(doc["_id"]),
        occurred_at=occurred,
        request_id=doc.get("request_id") or "",
        producer=doc.get("producer") or "",
        version=int(doc.get("version") or 1),
    )
