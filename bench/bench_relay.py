"""The outbox relay's CPU per published event (issue 15).

One process: an ``Outbox`` and its ``OutboxRelay`` against MF_MONGO_URL (else the in-memory
MongoDB substitute started here, as the relay tests start it) and the local RabbitMQ
(MF_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/), with an exchange and a durable queue
bound to it of the bench's own (deleted afterwards, with the database).

The events are written to the outbox collection first (not measured; stored with a status
the relay's polls do not look for, so only the hand-over sends them), then handed to the
relay as a commit hands them over (``CommitSink.committed``), and the process's CPU is
measured from the first hand-over until every event is confirmed and marked sent. Two shapes:

* ``trickle``: one event per hand-over, ``--rate`` hand-overs a second (a repayment's
  commits arrive one by one; the relay wakes and publishes a few at a time);
* ``burst``: all of them handed over at once, two per hand-over (the relay publishes
  full batches of ``batch_size``).

The pacing loop's own CPU (the same loop handing over to nothing) is measured as well and
taken off. It prints figures and asserts nothing about speed.

    python bench/bench_relay.py [--events 2000] [--rate 400] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@contextlib.contextmanager
def mongo(url: str | None) -> Iterator[tuple[str, str]]:
    if url:
        yield url, "the MongoDB at MF_MONGO_URL / --mongo-url"
        return
    from microfinance_cli import backends

    with backends.start_mongo_substitute(None) as running:
        yield running.url, "embedded substitute secantusdb (in memory)"


def payload(i: int) -> dict[str, Any]:
    """About the size and shape of a ``payment.posted`` payload."""
    return {
        "payment_id": f"pay-{i}",
        "loan_id": f"loan-{i % 200}",
        "borrower_id": f"bor-{i % 200}",
        "agent_id": "agent-1",
        "amount_minor": 12_500 + i,
        "currency": "USD",
        "method": "CASH",
        "status": "POSTED",
        "receipt_number": f"R-2026-{i:06d}",
        "loan_transaction_id": uuid.uuid4().hex,
        "recovery": False,
        "loan_closed": False,
        "allocation": {
            "principal_minor": 10_000,
            "interest_minor": 2_500 + i,
            "fees_minor": 0,
            "penalty_minor": 0,
        },
        "posted_at": datetime.now(UTC).isoformat(),
    }


async def until(check: Any, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def hand_over(sink: Any, docs: list[dict[str, Any]], per: int, rate: float) -> None:
    """``docs`` to ``sink.committed``, ``per`` at a time, ``rate`` hand-overs a second
    (timers set up front, so the pacing costs next to nothing; 0: all at once)."""
    loop = asyncio.get_running_loop()
    groups = [docs[i : i + per] for i in range(0, len(docs), per)]
    if not rate:
        for group in groups:
            sink.committed(group)
        return
    done = loop.create_future()
    start = loop.time()
    for n, group in enumerate(groups):
        loop.call_at(start + n / rate, sink.committed, group)
    loop.call_at(start + len(groups) / rate, done.set_result, None)
    await done


class Nowhere:
    def committed(self, docs: list[dict[str, Any]]) -> None:
        pass


async def run(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    import aio_pika

    from shared.events import Outbox, OutboxRelay, outbox_indexes
    from shared.mongo import create_mongo_client

    amqp_url = os.environ.get("MF_AMQP_URL") or DEFAULT_AMQP
    token = uuid.uuid4().hex[:8]
    exchange, queue, dbname = f"benchrelay.{token}", f"benchrelay.{token}", f"benchrelay_{token}"
    client = create_mongo_client(url, app_name="bench-relay")
    db = client[dbname]
    connection = await aio_pika.connect(amqp_url, timeout=5)
    figures: dict[str, list[float]] = {}
    try:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await channel.declare_queue(queue, durable=True)
        await q.bind(ex, routing_key="#")
        await outbox_indexes().apply(db)
        outbox = Outbox(db, producer="payment_service")
        relay = OutboxRelay(outbox, amqp_url, exchange)
        await relay.start()

        async def settled(target: int) -> bool:
            # Marked: no longer in flight (dropped from it once the mark is written).
            return relay.published >= target and not relay._inflight and not relay._to_mark

        async def one(shape: str, count: int, profile: bool = False) -> float:
            events = [
                outbox.new_event("payment.posted", f"pay-{i}", payload(i)) for i in range(count)
            ]
            docs = [outbox.event_doc(e) for e in events]
            # Stored as "staged", not pending: the relay's polls (measured) must not find
            # them before they are handed over; its marks set them sent all the same.
            await outbox.collection.insert_many(
                [{**doc, "status": "staged"} for doc in docs], ordered=True
            )
            per, rate = (1, args.rate) if shape == "trickle" else (2, 0.0)
            # The pacing loop alone, to take off.
            c0 = time.process_time()
            await hand_over(Nowhere(), docs, per, rate)
            pacing = time.process_time() - c0
            target = relay.published + count
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
            c0, w0 = time.process_time(), time.monotonic()
            await hand_over(relay, docs, per, rate)
            await until(lambda: settled(target), within=120, what=f"{count} events marked")
            cpu, wall = time.process_time() - c0, time.monotonic() - w0
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
            left = await outbox.collection.count_documents(
                {"_id": {"$in": [d["_id"] for d in docs]}, "status": {"$ne": "sent"}}
            )
            if left:
                raise SystemExit(f"{left} events not marked sent")
            per_event = (cpu - pacing) / count * 1000
            print(
                f"{shape:8} {count:6d} events  {wall:6.2f} s  CPU {cpu * 1000:8.1f} ms"
                f" (pacing {pacing * 1000:5.1f})  {per_event:6.3f} ms/event"
                f"  polls {relay.polls} marks {relay.marks}",
                flush=True,
            )
            return per_event

        async def leased() -> bool:
            return relay._lease.held

        await until(leased, within=30, what="the relay's lease")
        await one("burst", 200)  # warm up: connection, channel, code paths
        for r in range(args.repeat):
            for shape in ("trickle", "burst"):
                profile = args.profile and r == args.repeat - 1
                figures.setdefault(shape, []).append(await one(shape, args.events, profile))
        await relay.stop()
    finally:
        with contextlib.suppress(Exception):
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.exchange_delete(exchange)
        await connection.close()
        await client.drop_database(dbname)
        await client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=400.0, help="hand-overs a second in the trickle shape"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mongo-url", default=os.environ.get("MF_MONGO_URL"))
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile (CPU time) over the last repeat of each shape",
    )
    parser.add_argument("--top", type=int, default=30, help="functions the profile prints")
    args = parser.parse_args()
    from shared.eventloop import run as run_on

    with mongo(args.mongo_url) as (url, source):
        print(f"MongoDB: {source}; RabbitMQ: {os.environ.get('MF_AMQP_URL') or DEFAULT_AMQP}")
        figures = run_on(run(args, url), "uvloop")
    for shape, values in figures.items():
        print(
            f"{shape}: CPU per event {statistics.median(values):.3f} ms (median of "
            f"{len(values)}: {', '.join(f'{v:.3f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
