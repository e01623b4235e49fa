"""RabbitMQ unreachable while repayments are posted, then back: every payment.posted goes
out and reaches reporting once in effect."""

from __future__ import annotations

import asyncio
import time

from tests.resilience.harness import Observer, RepaymentLoad, Stack, seed, verify
from tests.resilience.registry import ScenarioResult, Size, scenario


async def _unsent_events(stack: Stack, loans: list[str]) -> int:
    """payment.posted events waiting in the payments' outbox right now."""
    pipeline = [
        {"$match": {"loan_id": {"$in": loans}, "outbox_next": {"$exists": True}}},
        {"$unwind": "$outbox"},
        {"$match": {"outbox.status": "pending"}},
        {"$count": "n"},
    ]
    found = await (await stack.db("payment")["payments"].aggregate(pipeline)).to_list()
    return int(found[0]["n"]) if found else 0


@scenario("rabbitmq_cut", "RabbitMQ unreachable during repayments, then back")
async def rabbitmq_cut(stack: Stack, size: Size) -> ScenarioResult:
    s = await seed(stack, size.loans)
    dead_before = await stack.dead_lettered()
    load = RepaymentLoad(stack.gateway_url, s.agent, s.loans, size.repayments, size.concurrency)
    async with Observer(stack.amqp_url, stack.settings.amqp_exchange) as observer:
        running = asyncio.create_task(load.run())
        await load.until(size.repayments // 5)
        cut_at = time.monotonic()
        await asyncio.to_thread(stack.proxy.cut)
        cut_done = load.done
        # Most of the load while the broker is out of reach.
        await load.until(size.repayments * 4 // 5)
        waiting = await _unsent_events(stack, s.loans)
        restored_at = time.monotonic()
        await asyncio.to_thread(stack.proxy.restore)
        postings = await running
        check = await verify(
            stack, postings, s.loans, observer=observer, dead_before=dead_before
        )
    result = ScenarioResult(
        name="rabbitmq_cut",
        title="RabbitMQ unreachable",
        size=size.label,
        load=f"{size.repayments:,} repayments, {size.concurrency} in flight, "
        f"{size.loans} loans",
        fault=f"TCP proxy to RabbitMQ cut for {restored_at - cut_at:.1f} s (open connections "
        f"reset, new ones refused) while {load.done - cut_done:,} repayments were answered; "
        "then restored",
    )
    result.add_postings(postings, during=(cut_at, restored_at),
                        before=(load.started_at, cut_at))
    result.add_money(check)
    result.figures["outbox_waiting_at_restore"] = waiting
    if result.succeeded != result.requests:
        result.problems.append(
            f"{result.requests - result.succeeded} repayments not acknowledged: {result.failures}"
        )
    if waiting == 0:
        result.problems.append("no event waited in the outbox: the cut did not hold")
    return result
