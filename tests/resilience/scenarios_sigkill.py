"""A service SIGKILLed mid-load and started again: payment_service, then loan_service.
Nothing lost, nothing posted twice, summing payments against the loans' transactions."""

from __future__ import annotations

import asyncio
import time

from tests.resilience.harness import (
    Observer,
    RepaymentLoad,
    Stack,
    eventually,
    seed,
    verify,
)
from tests.resilience.registry import ScenarioResult, Size, scenario


async def _killed_mid_load(stack: Stack, size: Size, service: str) -> ScenarioResult:
    s = await seed(stack, size.loans)
    dead_before = await stack.dead_lettered()
    load = RepaymentLoad(stack.gateway_url, s.agent, s.loans, size.repayments, size.concurrency)
    async with Observer(stack.amqp_url, stack.settings.amqp_exchange) as observer:
        running = asyncio.create_task(load.run())
        await load.until(size.repayments // 3)
        killed_at = time.monotonic()
        pid = await asyncio.to_thread(stack.kill, service)

        # Down until the clients notice: some requests answered while it is gone.
        def refused() -> int:
            return sum(
                1 for p in load.postings for st in p.statuses if st not in (200, 201)
            )

        before = refused()

        async def noticed() -> bool:
            return refused() > before or running.done()

        await eventually(noticed, within=30, what=f"clients see {service} gone")
        down_for = time.monotonic() - killed_at
        await stack.start_service(service)
        back_at = time.monotonic()
        postings = await running
        check = await verify(
            stack, postings, s.loans, observer=observer, dead_before=dead_before
        )
    result = ScenarioResult(
        name=f"sigkill_{service}",
        title=f"{service}_service SIGKILLed mid-load",
        size=size.label,
        load=f"{size.repayments:,} repayments, {size.concurrency} in flight, "
        f"{size.loans} loans",
        fault=f"SIGKILL to {service}_service (pid {pid}) after a third of the repayments; "
        f"down {down_for:.1f} s, serving again {back_at - killed_at:.1f} s after the kill",
        expected_failures="none once retried: 502/503/202 answers are retried with the same key",
    )
    result.add_postings(postings, during=(killed_at, back_at), before=(load.started_at, killed_at))
    result.add_money(check)
    if result.succeeded != result.requests:
        result.problems.append(
            f"{result.requests - result.succeeded} repayments not acknowledged: {result.failures}"
        )
    return result


@scenario("sigkill_payment", "payment_service SIGKILLed mid-load, restarted")
async def sigkill_payment(stack: Stack, size: Size) -> ScenarioResult:
    return await _killed_mid_load(stack, size, "payment")


@scenario("sigkill_loan", "loan_service SIGKILLed mid-load, restarted")
async def sigkill_loan(stack: Stack, size: Size) -> ScenarioResult:
    return await _killed_mid_load(stack, size, "loan")
