"""Tracing (MF_TRACING) end to end: one repayment through the gateway is one trace, from the
HTTP request through the payment and loan services to reporting's consumer; with tracing
off nothing of it is stored or sent."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.events.outbox import TRACE_FIELD
from tests.e2e.conftest import Login, Stack, StackBackends
from tests.e2e.loan_support import clients
from tests.e2e.payment_support import loan_for, portfolio, post
from tests.integration.support import eventually, traced

pytestmark = pytest.mark.e2e

PAYMENT_SPAN = "microfinance.payment.v1.PaymentService/PostPayment"
APPLY_SPAN = "microfinance.loan.v1.LoanService/ApplyRepayment"
READ_MODELS = ".reporting.read-models"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
async def traced_stack(
    exporter: InMemorySpanExporter,
    stack_backends: StackBackends,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """A stack of its own, started with tracing on: a service's interceptor decides once per
    method, when it is first called, whether its calls are traced."""
    with traced(exporter):
        async with stack_backends.open(Path(tmp_path_factory.mktemp("e2e-traced"))) as running:
            yield running


@contextlib.asynccontextmanager
async def watch_events(stack: Stack) -> AsyncIterator[list[aio_pika.abc.AbstractIncomingMessage]]:
    """Every message published on the stack's exchange while inside, as delivered."""
    seen: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect_robust(stack.settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            stack.settings.amqp_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{stack.settings.amqp_exchange}.test-tracing.{uuid.uuid4().hex[:6]}",
            exclusive=True,
            auto_delete=True,
        )
        await queue.bind(exchange, routing_key="#")

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            seen.append(message)
            await message.ack()

        await queue.consume(keep)
        yield seen
    finally:
        await connection.close()


def by_name(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_repayment_is_one_trace(
    traced_stack: Stack, exporter: InMemorySpanExporter
) -> None:
    stack = traced_stack
    with traced(exporter):
        admin = await stack.admin_login()
        async with clients(stack) as c:
            p = await portfolio(stack, c, admin)
            loan = await loan_for(c, p, days_ago=7)
        async with watch_events(stack) as messages:
            exporter.clear()
            r = await post(stack, p.agent, loan.id, 26_000)
            assert r.status_code == 201, r.text
            payment_id = r.json()["id"]

            gateway = by_name(exporter.get_finished_spans(), "POST /api/v1/payments")
            trace_id = gateway.context.trace_id

            def ours() -> list[ReadableSpan]:
                return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]

            def projected() -> list[ReadableSpan]:
                return [
                    s
                    for s in ours()
                    if s.kind is SpanKind.CONSUMER
                    and str((s.attributes or {}).get("messaging.consumer.group.name", "")).endswith(
                        READ_MODELS
                    )
                ]

            # Both events of the repayment reach reporting's read models, in this trace.
            await eventually(
                lambda: (
                    {s.name for s in projected()}
                    >= {"process payment.posted", "process loan.repayment_applied"}
                ),
                within=30,
            )
            await eventually(
                lambda: any(m.message_id for m in messages if m.type == "payment.posted"),
                within=30,
            )
            spans = ours()

            assert gateway.kind is SpanKind.SERVER
            assert gateway.parent is None
            assert (gateway.attributes or {})["http.route"] == "/api/v1/payments"
            assert (gateway.attributes or {})["http.response.status_code"] == 201

            posting = by_name(spans, PAYMENT_SPAN)
            assert posting.kind is SpanKind.SERVER
            assert parent_of(posting) == gateway.context.span_id
            assert (posting.attributes or {})["rpc.grpc.status_code"] == 0

            applying = by_name(spans, APPLY_SPAN)
            assert applying.kind is SpanKind.SERVER
            assert parent_of(applying) == posting.context.span_id

            consumed = {s.name: s for s in projected()}
            # Each event's consumer span is a child of the call that wrote the event.
            assert parent_of(consumed["process payment.posted"]) == posting.context.span_id
            assert parent_of(consumed["process loan.repayment_applied"]) == applying.context.span_id
            for span in consumed.values():
                assert span.status.is_ok

            # Every span of the repayment hangs from the gateway's: one tree, one trace.
            ids = {s.context.span_id for s in spans}
            for span in spans:
                if span is not gateway:
                    assert parent_of(span) in ids, span.name

            # The context was stored with the event and sent in the message headers.
            payments = stack.infra["payment"].db.payments
            await eventually(lambda: _event_sent(payments, payment_id), within=30)
            posted = next(m for m in messages if m.type == "payment.posted")
            traceparent = str((posted.headers or {})["traceparent"])
            assert traceparent.split("-")[1] == f"{trace_id:032x}"
            assert traceparent.split("-")[2] == f"{posting.context.span_id:016x}"


async def _event_sent(payments: Any, payment_id: str) -> bool:
    doc = await payments.find_one({"_id": payment_id})
    return doc is not None and not doc.get("outbox_next")


async def test_with_tracing_off_nothing_is_stored_or_sent(stack: Stack, admin: Login) -> None:
    assert not tracing.enabled
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
    async with watch_events(stack) as messages:
        r = await post(stack, p.agent, loan.id, 26_000)
        assert r.status_code == 201, r.text
        payment_id = r.json()["id"]
        payment = await stack.infra["payment"].db.payments.find_one({"_id": payment_id})
        assert payment is not None
        assert payment["outbox"], "the payment's events are embedded in it"
        assert all(TRACE_FIELD not in event for event in payment["outbox"])
        loan_doc = await stack.infra["loan"].db.loans.find_one({"_id": loan.id})
        assert loan_doc is not None
        assert all(TRACE_FIELD not in event for event in loan_doc.get("outbox") or ())
        await eventually(
            lambda: {"payment.posted", "loan.repayment_applied"} <= {m.type for m in messages},
            within=30,
        )
        for message in messages:
            headers = message.headers or {}
            assert "traceparent" not in headers
            assert "tracestate" not in headers
