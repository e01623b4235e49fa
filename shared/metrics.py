"""Prometheus metrics: the definitions every process shares, the /metrics listener, and the
sampler that refreshes the gauges needing a database read.

One registry per process (prometheus-client's default, which also carries the process'
CPU, memory and garbage collector figures). Hot paths bind their label values once (per
RPC method, per route) and only ``inc``/``observe`` per call; gauges that cost a query
(outbox backlog, end of day, payments awaiting recovery) are refreshed by ``Sampler`` on
the event loop every few seconds, never by a scrape. The listener is a small HTTP server
on its own port (``MF_METRICS_PORT``, 0 = off), on ``MF_METRICS_HOST`` (loopback unless
configured), so the public ports never serve it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from shared.background import BackgroundLoop

log = logging.getLogger(__name__)

# Latency buckets (seconds) around the repayment path's few to tens of milliseconds.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)

# --- gRPC server (shared/grpc/interceptors.py) -------------------------------------------
GRPC_HANDLED = Counter(
    "microfinance_grpc_server_handled_total",
    "RPCs completed by the server, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "microfinance_grpc_server_handling_seconds",
    "Time the server spent on an RPC, from the interceptor to the answer.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)

# --- HTTP gateway (api_gateway/middleware.py) --------------------------------------------
HTTP_REQUESTS = Counter(
    "microfinance_http_requests_total",
    "HTTP requests answered by the gateway, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "microfinance_http_request_duration_seconds",
    "Time the gateway spent on a request, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

# --- caches (shared/cache.py) ------------------------------------------------------------
CACHE_HITS = Counter(
    "microfinance_cache_hits_total", "Cache lookups that found an entry.", ["cache"]
)
CACHE_MISSES = Counter(
    "microfinance_cache_misses_total",
    "Cache lookups that found nothing (or nothing usable).",
    ["cache"],
)

# --- sampled gauges ----------------------------------------------------------------------
OUTBOX_PENDING = Gauge(
    "microfinance_outbox_pending_events",
    "Events stored and not yet published (outbox collection and embedded), per service.",
    ["service"],
)
EOD_PHASES = ("idle", "running", "retrying", "given_up")
# A labelled gauge, not an Enum: it appears only where end of day is sampled (loan_service),
# where an Enum would say "idle" in every process.
EOD_PHASE = Gauge(
    "microfinance_eod_phase",
    "End of day: 1 for the current phase, idle, running, retrying (the run failed and is "
    "tried again) or given_up; 0 for the others.",
    ["phase"],
)
EOD_LOANS_TOTAL = Gauge(
    "microfinance_eod_loans_total", "End of day: loans to process on the date being closed."
)
EOD_LOANS_DONE = Gauge(
    "microfinance_eod_loans_done", "End of day: loans processed so far on the date being closed."
)
EOD_DATES_REMAINING = Gauge(
    "microfinance_eod_dates_remaining", "End of day: dates of the open run not closed yet."
)
EOD_CURRENT_DATE = Gauge(
    "microfinance_eod_current_date_seconds",
    "End of day: the business date being closed (Unix time of its midnight UTC), 0 if none.",
)
EOD_LAST_CLOSED = Gauge(
    "microfinance_eod_last_closed_date_seconds",
    "End of day: the last closed business date (Unix time of its midnight UTC), 0 if none.",
)
EOD_FAILURES = Gauge(
    "microfinance_eod_run_failures", "End of day: how many times the open run has failed."
)
PAYMENTS_PENDING_RECOVERY = Gauge(
    "microfinance_payments_pending_recovery",
    "Payments left PENDING and reversals requested, not settled yet (kind: payment, "
    "reversal), whether or not their lease has run out.",
    ["kind"],
)
PAYMENTS_RECOVERY_DUE = Gauge(
    "microfinance_payments_recovery_due",
    "Pending payments and reversals whose lease ran out: the recovery loop's next work.",
)
SAMPLE_ERRORS = Counter(
    "microfinance_metrics_sample_errors_total",
    "Failed refreshes of a sampled gauge (the gauge keeps its last value).",
    ["sample"],
)


# --- relays and consumers: read from their own counters at scrape time -------------------
class _Relay(Protocol):
    published: int
    failures: int

    @property
    def exchange_name(self) -> str: ...


class _Consumer(Protocol):
    handled: int
    skipped: int
    dead_lettered: int
    queue_name: str


class _EventCounters(Collector):
    """Counters the relays and consumers keep anyway, read when scraped: nothing is added
    to their paths. Objects are held weakly (tests make many)."""

    def __init__(self) -> None:
        self.relays: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self.consumers: weakref.WeakSet[Any] = weakref.WeakSet()
        # Added to on the loop, read by the scrape thread.
        self.lock = threading.Lock()

    def watched(self) -> tuple[list[tuple[Any, str]], list[Any]]:
        with self.lock:
            return list(self.relays.items()), list(self.consumers)

    def collect(self) -> Iterable[CounterMetricFamily]:
        published = CounterMetricFamily(
            "microfinance_outbox_published",
            "Events the outbox relay published (confirmed by the broker).",
            labels=["service"],
        )
        failures = CounterMetricFamily(
            "microfinance_outbox_publish_failures",
            "Relay passes that failed (broker down, events not confirmed).",
            labels=["service"],
        )
        relays, consumers = self.watched()
        sums: dict[str, list[int]] = {}
        for relay, service in relays:
            row = sums.setdefault(service, [0, 0])
            row[0] += relay.published
            row[1] += relay.failures
        for service, (ok, failed) in sums.items():
            published.add_metric([service], ok)
            failures.add_metric([service], failed)
        handled = CounterMetricFamily(
            "microfinance_events_handled",
            "Events a consumer handled (committed), by queue.",
            labels=["queue"],
        )
        skipped = CounterMetricFamily(
            "microfinance_events_skipped",
            "Events a consumer skipped as already handled (redeliveries), by queue.",
            labels=["queue"],
        )
        dead = CounterMetricFamily(
            "microfinance_events_dead_lettered",
            "Events a consumer gave up on and dead-lettered, by queue.",
            labels=["queue"],
        )
        by_queue: dict[str, list[int]] = {}
        for consumer in consumers:
            row = by_queue.setdefault(consumer.queue_name, [0, 0, 0])
            row[0] += consumer.handled
            row[1] += consumer.skipped
            row[2] += consumer.dead_lettered
        for queue, (h, s, d) in by_queue.items():
            handled.add_metric([queue], h)
            skipped.add_metric([queue], s)
            dead.add_metric([queue], d)
        return [published, failures, handled, skipped, dead]


EVENT_COUNTERS = _EventCounters()
REGISTRY.register(EVENT_COUNTERS)


def watch_relay(relay: _Relay, service: str) -> None:
    with EVENT_COUNTERS.lock:
        EVENT_COUNTERS.relays[relay] = service


def watch_consumer(consumer: _Consumer) -> None:
    with EVENT_COUNTERS.lock:
        EVENT_COUNTERS.consumers.add(consumer)


# --- the listener ------------------------------------------------------------------------
class MetricsEndpoint:
    """``/metrics`` of this process on ``host:port`` (port 0 picks a free one; the setting
    ``MF_METRICS_PORT=0`` means no endpoint at all and never gets here). A thread of
    prometheus-client serves it; it only reads what the loop wrote."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        self._server, self._thread = start_http_server(self.port, addr=self.host)
        self.port = int(self._server.server_port)
        log.info("metrics at http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


# --- the sampler -------------------------------------------------------------------------
Sample = Callable[[], Awaitable[None]]


class Sampler(BackgroundLoop):
    """Runs each sample (a coroutine setting gauges) every ``interval`` seconds, one after
    another, on the process' loop. A failing sample is counted and logged at debug, and
    its gauges keep their last value until the next pass succeeds."""

    task_name = "metrics-sampler"

    def __init__(self, samples: Sequence[tuple[str, Sample]], interval: float) -> None:
        super().__init__()
        self.samples = list(samples)
        self.interval = interval

    async def sample_once(self) -> None:
        for name, sample in self.samples:
            try:
                await sample()
            except asyncio.CancelledError:
                raise
            except Exception:
                SAMPLE_ERRORS.labels(name).inc()
                log.debug("metrics sample %s failed", name, exc_info=True)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.sample_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)


def outbox_sample(outbox: Any, service: str) -> Sample:
    """The backlog of ``outbox`` (a ``shared.events.Outbox``) into OUTBOX_PENDING."""
    gauge = OUTBOX_PENDING.labels(service)

    async def sample() -> None:
        gauge.set(await outbox.pending_count())

    return sample
