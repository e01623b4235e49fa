"""The transactional outbox: events stored with the state change that caused them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession

from shared.events.envelope import Event
from shared.mongo import Database, IndexRegistry, TransactionOutcome, on_transaction_end

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


class CommitSink(Protocol):
    """What a relay in this process is told about the outbox writes it commits."""

    def committed(self, docs: list[dict[str, Any]]) -> None:
        """These outbox documents are committed (in this order); publish them if you can."""

    def uncertain(self) -> None:
        """A commit failed without saying whether it happened: look in the outbox first."""


class Outbox:
    """Stores events in the service's ``outbox`` collection, inside the caller's transaction.

    The documents of a transaction are also kept in memory until it ends: once it commits
    they are handed to the relays of this process (``CommitSink``) so the one holding the
    lease publishes them without reading them back; if it aborts they are dropped.
    """

    def __init__(self, db: Database, producer: str, collection: str = OUTBOX_COLLECTION) -> None:
        self.db = db
        self.producer = producer
        self.collection = db[collection]
        self.lease_collection = db[f"{collection}_lease"]
        self._wakers: list[asyncio.Event] = []
        self._sinks: list[CommitSink] = []

    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Event:
        return Event(event_type, aggregate_id, payload, producer=self.producer)

    async def add(self, session: AsyncClientSession | None, events: Iterable[Event]) -> None:
        """Insert ``events`` with ``session`` so they commit or abort with the state change.

        Call ``notify()`` after the commit so the relay wakes at once. In a transaction
        run by ``shared.mongo.transaction`` the committed documents also reach the relay
        of this process directly (``on_transaction_end``), so it need not read them back;
        anything else goes out on the relay's next poll.
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
        if not docs:
            return
        await self.collection.insert_many(docs, ordered=True, session=session)
        if session is None:
            self._ended(docs, True)
            self.notify()
        elif self._sinks:
            on_transaction_end(session, functools.partial(self._ended, docs))

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

    def _ended(self, docs: list[dict[str, Any]], outcome: TransactionOutcome) -> None:
        if outcome is False:
            return  # rolled back: these events never happened
        for sink in self._sinks:
            if outcome:
                sink.committed(docs)
            else:
                sink.uncertain()

    def _register(self, waker: asyncio.Event, sink: CommitSink | None = None) -> None:
        self._wakers.append(waker)
        if sink is not None:
            self._sinks.append(sink)

    def _unregister(self, waker: asyncio.Event, sink: CommitSink | None = None) -> None:
        with contextlib.suppress(ValueError):
            self._wakers.remove(waker)
        if sink is not None:
            with contextlib.suppress(ValueError):
                self._sinks.remove(sink)


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
