"""The transactional outbox: events stored with the state change that caused them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiormq
from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession

from shared import tracing
from shared.events.envelope import Event, wire
from shared.mongo import Database, IndexRegistry, TransactionOutcome, on_transaction_end

OUTBOX_COLLECTION = "outbox"
PENDING, SENT = "pending", "sent"
# Embedded outbox: the events array of an aggregate document, and the order of its oldest
# unpublished event (absent once all are sent; sparse index) by which the poll finds it.
EMBEDDED_FIELD, NEXT_FIELD = "outbox", "outbox_next"
# In memory only, on the event documents handed to the relay: (collection, document id)
# of an embedded event, so the relay marks it where it lives.
HOME = "_home"
# With tracing on: the W3C trace context of the request that wrote the event; the relay
# sends it in the message headers. Absent otherwise, so documents keep their size.
TRACE_FIELD = "trace"


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


def embedded_outbox_indexes(collection: str) -> IndexRegistry:
    """The index an embedded outbox in ``collection`` needs (see ``EmbeddedOutbox``)."""
    return IndexRegistry(
        {collection: [IndexModel([(NEXT_FIELD, ASCENDING)], sparse=True, name=NEXT_FIELD)]}
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
        # Aggregate collections whose documents carry their own events (by name).
        self.sources: dict[str, EmbeddedOutbox] = {}

    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Event:
        return Event(event_type, aggregate_id, payload, producer=self.producer)

    async def add(self, session: AsyncClientSession | None, events: Iterable[Event]) -> None:
        """Insert ``events`` with ``session`` so they commit or abort with the state change.

        Call ``notify()`` after the commit so the relay wakes at once. In a transaction
        run by ``shared.mongo.transaction`` the committed documents also reach the relay
        of this process directly (``on_transaction_end``), so it need not read them back;
        anything else goes out on the relay's next poll.
        """
        docs = [self.event_doc(event) for event in events]
        if not docs:
            return
        await self.collection.insert_many(docs, ordered=True, session=session)
        if session is None:
            self._ended(docs, True)
            self.notify()
        elif self._sinks:
            on_transaction_end(session, functools.partial(self._ended, docs))

    def event_doc(self, event: Event) -> dict[str, Any]:
        """The stored form of ``event`` (in the outbox collection or embedded)."""
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
        if tracing.enabled:
            trace = tracing.carrier()
            if trace:
                doc[TRACE_FIELD] = trace
        return doc

    def embedded(self, collection: str, *, drop_sent: bool = False) -> EmbeddedOutbox:
        """The embedded outbox of ``collection`` (made once); the relay polls it too.

        ``drop_sent``: the relay removes (``$pull``) an event from its document once it
        is confirmed, instead of marking it sent in place: for aggregates that collect
        many events over their life (a loan), so their documents do not keep growing.
        """
        source = self.sources.get(collection)
        if source is None:
            source = self.sources[collection] = EmbeddedOutbox(self, collection, drop_sent)
        elif source.drop_sent != drop_sent:
            raise ValueError(f"embedded outbox {collection!r} asked for with another drop_sent")
        return source

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
        """Unpublished events: in the outbox collection and embedded in aggregates."""
        count = await self.collection.count_documents({"status": PENDING})
        for source in self.sources.values():
            count += await source.pending_count()
        return count

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


@dataclass(frozen=True, slots=True)
class Staged:
    """Events to store in an aggregate document with the write of its state change."""

    docs: list[dict[str, Any]]
    # Update operators to merge into that write (``$push`` and ``$min``).
    update: dict[str, Any]

    def fields(self) -> dict[str, Any]:
        """The same events as fields of a document being inserted."""
        if not self.docs:
            return {}
        return {EMBEDDED_FIELD: list(self.docs), NEXT_FIELD: self.docs[0]["order"]}


class EmbeddedOutbox:
    """Events stored inside the aggregate document whose change caused them.

    The use case merges ``stage(events).update`` into its single-document write of the
    aggregate (``$push`` onto ``outbox``, ``$min`` of ``outbox_next``): the state change
    and its events are one atomic write, no transaction. Then it calls ``written`` (after
    the write, or inside the transaction that holds it: they are handed over at the
    commit), and the relay publishes them like outbox documents: directly if it can, else
    by its poll, which reads documents with an ``outbox_next`` in that order. Confirmed
    events are marked sent in place (or, with ``drop_sent``, removed from the document)
    and ``outbox_next`` is dropped once none is pending. Events of one document go out
    in the order they were pushed. Other writes to these documents must leave ``outbox``
    and ``outbox_next`` alone (``$set`` of other fields, never a whole-document replace).
    A new document may carry its first events from its insert (``Staged.fields``).
    """

    def __init__(self, outbox: Outbox, collection: str, drop_sent: bool = False) -> None:
        self.outbox = outbox
        self.name = collection
        self.collection = outbox.db[collection]
        # Sent events are removed from the document (``$pull``), not kept marked.
        self.drop_sent = drop_sent

    def new_event(self, event_type: str, aggregate_id: str, payload: dict[str, Any]) -> Event:
        return self.outbox.new_event(event_type, aggregate_id, payload)

    def stage(self, events: Iterable[Event]) -> Staged:
        docs = [self.outbox.event_doc(event) for event in events]
        if not docs:
            return Staged([], {})
        return Staged(
            docs,
            {
                "$push": {EMBEDDED_FIELD: {"$each": docs}},
                "$min": {NEXT_FIELD: docs[0]["order"]},
            },
        )

    def written(
        self,
        parent_id: Any,
        staged: Staged,
        session: AsyncClientSession | None = None,
    ) -> None:
        """``staged`` was stored in document ``parent_id``: hand it to the relay.

        With a session in a transaction, at its end (dropped if it aborts); else now.
        """
        if not staged.docs:
            return
        docs = [{**doc, HOME: (self.name, parent_id)} for doc in staged.docs]
        if session is not None and session.in_transaction:
            if self.outbox._sinks:
                on_transaction_end(session, functools.partial(self.outbox._ended, docs))
            return
        self.outbox._ended(docs, True)
        self.outbox.notify()

    def uncertain(self) -> None:
        """A write with staged events failed without saying whether it happened."""
        self.outbox._ended([], None)

    def pending_query(self, skip: Iterable[str] = ()) -> dict[str, Any]:
        """Documents holding an unpublished event whose id is not in ``skip``."""
        match: dict[str, Any] = {"status": PENDING}
        skipped = list(skip)
        if skipped:
            match["_id"] = {"$nin": skipped}
        return {NEXT_FIELD: {"$exists": True}, EMBEDDED_FIELD: {"$elemMatch": match}}

    async def pending_count(self) -> int:
        count = 0
        async for doc in self.collection.find(
            {NEXT_FIELD: {"$exists": True}}, {EMBEDDED_FIELD: 1}
        ):
            count += sum(1 for e in doc.get(EMBEDDED_FIELD) or () if e.get("status") == PENDING)
        return count


def _stored(
    doc: dict[str, Any],
) -> tuple[str, str, str, datetime, dict[str, Any], str, str, int]:
    """A stored event's fields in ``wire``'s order: id, type, aggregate id, when it
    occurred (UTC-aware), payload, request id, producer, version."""
    occurred = doc["occurred_at"]
    if isinstance(occurred, datetime) and occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return (
        str(doc["_id"]),
        doc["type"],
        doc["aggregate_id"],
        occurred,
        doc.get("payload") or {},
        doc.get("request_id") or "",
        doc.get("producer") or "",
        int(doc.get("version") or 1),
    )


def event_from_doc(doc: dict[str, Any]) -> Event:
    id, type, aggregate_id, occurred, payload, request_id, producer, version = _stored(doc)
    return Event(
        type=type,
        aggregate_id=aggregate_id,
        payload=payload,
        id=id,
        occurred_at=occurred,
        request_id=request_id,
        producer=producer,
        version=version,
    )


def wire_of_doc(doc: dict[str, Any]) -> tuple[bytes, aiormq.spec.Basic.Properties]:
    """``event_from_doc(doc).to_message()``'s body and properties, without either object;
    the trace context stored with the event, if any, goes in the headers."""
    return wire(*_stored(doc), trace=doc.get(TRACE_FIELD))
