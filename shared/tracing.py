"""Optional OpenTelemetry tracing, switched by ``MF_TRACING`` (``otlp``, ``console``, ``off``).

Spans: one per gateway request (FastAPI's own, fed from here), one per gRPC call a service
serves, one per event a consumer handles. The W3C trace context (``traceparent``,
``tracestate``) travels in gRPC metadata, is stored with each outbox event, and rides in the
AMQP message headers, so an event's consumer joins the trace of the request that wrote it.

Off by default. Then OpenTelemetry's SDK is never imported (the ``tracing`` extra need not be
installed) and the code paths that would trace check ``enabled`` and nothing else. The
exporter, sampler and resource follow the standard ``OTEL_*`` variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_TRACES_SAMPLER``, ``OTEL_SERVICE_NAME``...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, SpanKind, Tracer

Mode = Literal["off", "otlp", "console"]

# The keys of the W3C trace context, in metadata, headers and stored events alike.
TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
CARRIER_KEYS = (TRACEPARENT, TRACESTATE)

# Read on the hot paths: a module global, so "off" costs one lookup.
enabled = False
_tracer: Tracer | None = None
_propagator: Any = None
_provider: TracerProvider | None = None


def setup(mode: Mode, service: str) -> TracerProvider | None:
    """Tracing for this process, once, before it serves: ``mode`` is ``MF_TRACING``.

    ``otlp`` exports in batches over OTLP/gRPC (``OTEL_EXPORTER_OTLP_*``), ``console``
    prints each span to stderr. The service name is ``OTEL_SERVICE_NAME`` if set.
    """
    if mode == "off":
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
            SpanExporter,
        )
    except ImportError as exc:
        raise RuntimeError(
            f"MF_TRACING={mode} needs the tracing extra: pip install 'microfinance[tracing]'"
        ) from exc
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    # The sampler comes from OTEL_TRACES_SAMPLER (parent-based, always on, by default).
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if mode == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise RuntimeError(
                "MF_TRACING=otlp needs the tracing extra: pip install 'microfinance[tracing]'"
            ) from exc
        exporter: SpanExporter = OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    # Global too, for any library instrumentation someone adds.
    trace.set_tracer_provider(provider)
    enable(provider)
    return provider


def enable(provider: TracerProvider) -> None:
    """Trace with ``provider`` from now on (``setup`` calls it; tests pass their own)."""
    global enabled, _tracer, _propagator, _provider
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    _provider = provider
    _tracer = provider.get_tracer("microfinance")
    _propagator = TraceContextTextMapPropagator()
    enabled = True


def provider() -> TracerProvider | None:
    """The provider spans go to (None while tracing is off)."""
    return _provider


def disable() -> None:
    """Stop tracing (tests): nothing is traced or propagated after this."""
    global enabled, _tracer, _provider
    enabled = False
    _tracer = _provider = None


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers; empty when no span is current."""
    headers: dict[str, str] = {}
    if enabled:
        _propagator.inject(headers)
    return headers


def extract(headers: Mapping[str, Any] | None) -> Context | None:
    """The trace context in ``headers`` (gRPC metadata, AMQP headers, a stored event)."""
    if not headers:
        return None
    found = {k: str(headers[k]) for k in CARRIER_KEYS if headers.get(k)}
    if not found:
        return None
    context: Context = _propagator.extract(found)
    return context


def kind(name: Literal["server", "consumer"]) -> SpanKind:
    from opentelemetry.trace import SpanKind

    return SpanKind.SERVER if name == "server" else SpanKind.CONSUMER


@contextmanager
def span(
    name: str,
    *,
    parent: Mapping[str, Any] | None = None,
    span_kind: Literal["server", "consumer"] = "server",
    attributes: Mapping[str, Any] | None = None,
    current: bool = True,
    expected: tuple[type[BaseException], ...] = (),
) -> Iterator[Span]:
    """A span named ``name``, child of the context in ``parent`` (headers) if any, else of
    the current span. ``current``: made the current span inside (its children, outgoing
    calls and stored events see it); else only started and ended here. An exception
    leaving it marks it failed, unless it is one of ``expected`` (the caller judges)."""
    assert _tracer is not None, "tracing is not enabled"
    context = extract(parent)
    options: dict[str, Any] = {
        "context": context,
        "kind": kind(span_kind),
        "attributes": dict(attributes or {}),
        # Recorded below, unless expected.
        "record_exception": False,
        "set_status_on_exception": False,
    }
    manager: AbstractContextManager[Span] = (
        _tracer.start_as_current_span(name, **options)
        if current
        else _tracer.start_span(name, **options)
    )
    with manager as started:
        try:
            yield started
        except expected:
            raise
        except BaseException as exc:
            started.record_exception(exc)
            fail(started, f"{type(exc).__name__}: {exc}")
            raise


def fail(target: Span, description: str) -> None:
    """Mark ``target`` as failed."""
    from opentelemetry.trace import Status, StatusCode

    target.set_status(Status(StatusCode.ERROR, description))
