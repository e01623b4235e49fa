"""shared/metrics.py without servers: the sampler keeps going past a failing sample, and the
relays' and consumers' own counters are exported as they stand."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY

from shared import metrics


async def test_a_failing_sample_is_counted_and_the_others_still_run() -> None:
    ran: list[str] = []

    async def broken() -> None:
        raise RuntimeError("database away")

    async def fine() -> None:
        ran.append("fine")

    errors = "microfinance_metrics_sample_errors_total"
    before = REGISTRY.get_sample_value(errors, {"sample": "broken"}) or 0.0
    sampler = metrics.Sampler([("broken", broken), ("fine", fine)], interval=60)
    await sampler.sample_once()
    await sampler.sample_once()
    assert ran == ["fine", "fine"]
    assert REGISTRY.get_sample_value(errors, {"sample": "broken"}) == before + 2


@dataclass(eq=False)
class FakeRelay:
    published: int = 0
    failures: int = 0
    exchange_name: str = "x"


@dataclass(eq=False)
class FakeConsumer:
    queue_name: str
    handled: int = 0
    skipped: int = 0
    dead_lettered: int = 0


def test_relay_and_consumer_counters_are_read_when_scraped() -> None:
    relay = FakeRelay()
    consumer = FakeConsumer("ex.unit-metrics.queue")
    metrics.watch_relay(relay, "unit-metrics")
    metrics.watch_consumer(consumer)
    relay.published, relay.failures = 7, 1
    consumer.handled, consumer.dead_lettered = 5, 2

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert value("microfinance_outbox_published_total", service="unit-metrics") == 7
    assert value("microfinance_outbox_publish_failures_total", service="unit-metrics") == 1
    assert value("microfinance_events_handled_total", queue=consumer.queue_name) == 5
    assert value("microfinance_events_dead_lettered_total", queue=consumer.queue_name) == 2
    del relay, consumer
    # Held weakly: gone with their owners.
    assert value("microfinance_outbox_published_total", service="unit-metrics") is None
