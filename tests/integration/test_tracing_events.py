"""The trace context of the request that wrote an event reaches its consumer: stored with
the event, sent by the relay (handed over at commit, or read back by its poll) in the
message headers, and the parent of the consumer's span, one event at a time or in a batch."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.events import Event, IdempotentConsumer, Outbox, OutboxRelay, processed_indexes
from shared.events.outbox import TRACE_FIELD
from shared.mongo import transaction
from tests.integration.support import eventually, traced
from tests.integration.test_shared_events import Gate


def _consumed(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    """The consumer spans, by the id of the event each handled."""
    return {
        str((s.attributes or {})["messaging.message.id"]): s
        for s in spans
        if s.kind is SpanKind.CONSUMER
    }


async def test_each_event_is_handled_under_the_request_that_wrote_it(
    mongo_client, mongo_db, amqp_url, amqp_names
) -> None:
    await processed_indexes().apply(mongo_db)
    gate = Gate()
    batches: list[int] = []

    async def project(events: list[Event], session: Any) -> None:
        batches.append(len(events))
        await gate.hold()

    consumer = IdempotentConsumer(
        client=mongo_client, db=mongo_db, amqp_url=amqp_url, exchange=amqp_names.exchange,
        queue=amqp_names.queue("traced"), routing_keys=["loan.*"], batch_handler=project,
    )  # fmt: skip
    outbox = Outbox(mongo_db, producer="loan_service")
    # Polls once at start, then not within the test: the burst goes out handed over.
    relay = OutboxRelay(
        outbox, amqp_url, amqp_names.exchange, poll_interval=60, max_poll_interval=60
    )
    writers: dict[str, int] = {}  # event id -> the span that wrote it

    async def request(name: str, aggregate: str) -> Event:
        """One request: a span of its own writing one event in a transaction."""
        assert tracing._tracer is not None
        with tracing._tracer.start_as_current_span(name) as span:
            event = outbox.new_event("loan.disbursed", aggregate, {"amount_minor": 1})
            async with transaction(mongo_client) as session:
                await outbox.add(session, [event])
            outbox.notify()
        writers[event.id] = span.get_span_context().span_id
        return event

    with traced() as exporter:
        # Written before the relay runs: it finds this one by its poll, read back.
        first = await request("first", "L0")
        stored = await mongo_db.outbox.find_one({"_id": first.id})
        assert stored is not None
        assert stored[TRACE_FIELD]["traceparent"].split("-")[2] == f"{writers[first.id]:016x}"
        await consumer.start()
        await relay.start()
        try:
            await eventually(gate.entered.is_set, what="the first event held in its handler")
            # Handed over at commit; they wait behind the first and go as one batch.
            burst = [await request(f"burst {i}", f"L{i}") for i in range(1, 4)]
            await eventually(lambda: consumer.waiting == 3, what="the burst waiting")
            gate.opened.set()
            await eventually(lambda: consumer.handled == 4, what="all handled")
        finally:
            await relay.stop()
            await consumer.stop()
        assert batches == [1, 3]
        assert (relay.polls, relay.published_direct) == (1, 3)  # the first by the poll

        spans = list(exporter.get_finished_spans())
        consumed = _consumed(spans)
        assert set(consumed) == set(writers)
        writer_spans = {s.context.span_id: s for s in spans if s.kind is not SpanKind.CONSUMER}
        for event_id, span in consumed.items():
            writer = writer_spans[writers[event_id]]
            assert span.name == "process loan.disbursed"
            assert span.parent is not None
            assert span.parent.span_id == writer.context.span_id
            assert span.context.trace_id == writer.context.trace_id
            assert span.status.is_ok
        # Each request its own trace, the batch's events included.
        assert len({s.context.trace_id for s in consumed.values()}) == 4
        counts = {
            i: (consumed[i].attributes or {}).get("messaging.batch.message_count") for i in consumed
        }
        assert counts == {first.id: None, **{e.id: 3 for e in burst}}


async def test_without_tracing_events_carry_no_trace(mongo_client, mongo_db) -> None:
    assert not tracing.enabled
    outbox = Outbox(mongo_db, producer="loan_service")
    event = outbox.new_event("loan.disbursed", "L1", {})
    async with transaction(mongo_client) as session:
        await outbox.add(session, [event])
    stored = await mongo_db.outbox.find_one({"_id": event.id})
    assert stored is not None
    assert TRACE_FIELD not in stored
