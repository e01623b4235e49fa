"""The stores behind the services taken away mid-load:

* Redis SIGKILLed during repayments, then started again (empty): it is a cache, a rate
  limiter, a lockout counter and the revocation channel, all failing open, so no request
  fails; the figures are the latency before, during and after.
* Elasticsearch SIGKILLed during borrower creates: every create succeeds (MongoDB is the
  truth; the index is a copy), search answers 503 with Retry-After, and once it is back
  `microfinance reindex borrowers` (and `loans`) restore search completely.
* MongoDB stopped mid-load and started again: requests fail cleanly (503 with Retry-After,
  retried with the same Idempotency-Key), and nothing is half-written: every repayment on
  its loan once, none PENDING, the outbox, broker and reporting in agreement. The stand-in
  keeps its data only across a clean stop, so this is SIGTERM (a real MongoDB would also
  survive SIGKILL, from its journal).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections import Counter
from typing import Any

import httpx

from tests.resilience.harness import (
    PY,
    REPO,
    Observer,
    Posting,
    RepaymentLoad,
    Stack,
    eventually,
    latency_ms,
    percentile,
    seed,
    verify,
)
from tests.resilience.registry import ScenarioResult, Size, scenario
from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD


def _load_text(size: Size) -> str:
    return f"{size.repayments:,} repayments, {size.concurrency} in flight, {size.loans} loans"


def _attempts_other_than(postings: list[Posting], allowed: set[int]) -> Counter[str]:
    return Counter(str(s) for p in postings for s in p.statuses if s not in allowed)


def _by_window(postings: list[Posting], start: float, end: float) -> dict[str, int]:
    """Attempts answered other than 200/201, by when their repayment ran: wholly before the
    fault, in flight during it, or begun after it."""
    counts = {"before": 0, "during": 0, "after": 0}
    for p in postings:
        bad = sum(1 for s in p.statuses if s not in (200, 201))
        if bad:
            window = "before" if p.finished <= start else "after" if p.started >= end else "during"
            counts[window] += bad
    return counts


async def _probe(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> int:
    try:
        return (await client.request(method, path, **kw)).status_code
    except httpx.TransportError:
        return 0


# ------------------------------------------------------------------------ Redis --
@scenario("redis_down", "Redis SIGKILLed during repayments, then back (empty)")
async def redis_down(stack: Stack, size: Size) -> ScenarioResult:
    s = await seed(stack, size.loans)
    dead_before = await stack.dead_lettered()
    load = RepaymentLoad(stack.gateway_url, s.agent, s.loans, size.repayments, size.concurrency)
    probes: Counter[str] = Counter()
    async with Observer(stack.amqp_url, stack.settings.amqp_exchange) as observer:
        running = asyncio.create_task(load.run())
        await load.until(size.repayments // 3)
        killed_at = time.monotonic()
        await asyncio.to_thread(stack.stop_backend, "redis", sig=signal.SIGKILL)
        # Beside the repayments, what else leans on Redis: logging in (rate limit and
        # lockout), reading through the cache, a token checked against revocations.
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as c:
            for _ in range(3):
                login = await c.post("/api/v1/auth/login",
                                     json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
                probes[f"login {login.status_code}"] += 1
                code = await _probe(c, "GET", f"/api/v1/loans/{s.loans[0]}", headers=s.agent)
                probes[f"get loan {code}"] += 1
                code = await _probe(c, "GET", "/api/v1/me", headers=s.agent)
                probes[f"me {code}"] += 1
        await load.until(size.repayments * 2 // 3)
        back_at = time.monotonic()
        await stack.start_backend("redis")
        postings = await running
        check = await verify(stack, postings, s.loans, observer=observer, dead_before=dead_before)
    result = ScenarioResult(
        name="redis_down",
        title="Redis down",
        size=size.label,
        load=_load_text(size),
        fault=f"redis-server SIGKILLed after a third of the repayments, down "
        f"{back_at - killed_at:.1f} s (a third more answered), then started again empty",
        expected_failures="none: cache, rate limits, lockouts and revocation checks fail open",
    )
    result.add_postings(postings, during=(killed_at, back_at), before=(load.started_at, killed_at))
    result.add_money(check)
    p50_after, p99_after, n_after = latency_ms(postings, back_at, load.finished_at)
    result.figures.update(
        p50_after_ms=p50_after, p99_after_ms=p99_after, postings_after_fault=n_after,
        probes_while_down=dict(probes),
    )
    failed = _attempts_other_than(postings, {200, 201})
    result.figures["failed_attempts_by_window"] = _by_window(postings, killed_at, back_at)
    if failed:
        result.problems.append(
            f"requests failed: {dict(failed)} (before / during / after the outage: "
            f"{result.figures['failed_attempts_by_window']})"
        )
    bad_probes = {k: v for k, v in probes.items() if not k.endswith(" 200")}
    if bad_probes:
        result.problems.append(f"logins or reads failed while Redis was down: {bad_probes}")
    return result


# ---------------------------------------------------------------- Elasticsearch --
def _borrower(marker: str) -> dict[str, Any]:
    digits = "".join(secrets.choice("0123456789") for _ in range(8))
    return {
        "first_name": marker,
        "last_name": "Outage" + "".join(secrets.choice("abcdefghijklmnop") for _ in range(6)),
        "date_of_birth": "1988-02-20", "phone": f"+2547{digits}", "nationality": "KE",
        "identity_documents": [{"type": "NATIONAL_ID", "number": f"8{digits[:7]}"}],
    }


async def _reindex(stack: Stack, target: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        PY, "-m", "microfinance_cli", "reindex", target, env=stack.env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    text = out.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise RuntimeError(f"reindex {target} failed ({proc.returncode}): {text[-800:]}")
    return text.splitlines()[-1] if text else ""


@scenario("es_killed", "Elasticsearch SIGKILLed during borrower creates; reindex restores search")
async def es_killed(stack: Stack, size: Size) -> ScenarioResult:
    s = await seed(stack, 1)
    marker = "Searchfault" + "".join(secrets.choice("abcdefghij") for _ in range(4))
    statuses: Counter[str] = Counter()
    created: list[str] = []
    search_down: Counter[str] = Counter()
    refusals: list[str] = []
    latencies: list[tuple[float, float]] = []  # (started, seconds)
    gate = asyncio.Semaphore(size.concurrency)
    killed_at = back_at = 0.0

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as c:

        async def create() -> None:
            async with gate:
                began = time.monotonic()
                # No retry: a create has no idempotency key, so every one must succeed first.
                r = await c.post("/api/v1/borrowers", headers=s.agent, json=_borrower(marker))
                latencies.append((began, time.monotonic() - began))
                statuses[str(r.status_code)] += 1
                if r.status_code == 201:
                    created.append(str(r.json()["id"]))
                else:
                    refusals.append(r.text[:300])

        third = max(1, size.creates // 3)
        await asyncio.gather(*(create() for _ in range(third)))
        killed_at = time.monotonic()
        await asyncio.to_thread(stack.stop_backend, "es", sig=signal.SIGKILL)
        rest = asyncio.gather(*(create() for _ in range(size.creates - third)))
        for _ in range(3):
            r = await c.get("/api/v1/borrowers", params={"q": marker}, headers=s.agent)
            advice = "retry-after" in r.headers
            search_down[f"{r.status_code}{'' if advice else ' (no Retry-After)'}"] += 1
        await rest
        back_at = time.monotonic()
        await stack.start_backend("es")

        async def search_total() -> int:
            r = await c.get("/api/v1/borrowers", params={"q": marker, "page_size": 100},
                            headers=s.agent)
            return int(r.json()["page"]["total_size"]) if r.status_code == 200 else -r.status_code

        # Back but empty (nothing was saved): what the consumer's retries bring back alone.
        before_reindex = await search_total()
        reindexed = {t: await _reindex(stack, t) for t in ("borrowers", "loans")}

        found = -1

        async def all_found() -> bool:
            nonlocal found
            found = await search_total()
            return found == len(created)

        with contextlib.suppress(TimeoutError):
            await eventually(all_found, within=60, what="search finds every borrower")
        loan_hit = await c.get("/api/v1/loans", params={"q": "Fault"}, headers=s.admin)

    result = ScenarioResult(
        name="es_killed",
        title="Elasticsearch killed",
        size=size.label,
        load=f"{size.creates:,} borrower creates, {size.concurrency} in flight",
        fault=f"noida-db (Elasticsearch) SIGKILLed after a third of the creates; down "
        f"{back_at - killed_at:.1f} s, started again (its index lost), then `microfinance "
        "reindex borrowers` and `reindex loans`",
        expected_failures="search only: 503 with Retry-After while it is down",
    )
    result.requests = result.attempts = size.creates
    result.succeeded = statuses.get("201", 0)
    result.attempt_statuses = dict(statuses)
    result.failures = {k: v for k, v in statuses.items() if k != "201"}
    before = [ms * 1000 for began, ms in latencies if began < killed_at]
    during = [ms * 1000 for began, ms in latencies if began >= killed_at]
    result.p50_before_ms, result.p99_before_ms = percentile(before, 50), percentile(before, 99)
    result.p50_during_ms, result.p99_during_ms = percentile(during, 50), percentile(during, 99)
    result.figures.update(
        search_while_down=dict(search_down), reindexed=reindexed,
        search_total_before_reindex=before_reindex,
        search_total_after_reindex=found, created=len(created),
        loan_search_after_reindex=loan_hit.status_code,
    )
    if result.failures:
        result.problems.append(
            f"creates failed while Elasticsearch was down: {result.failures}; {refusals[:2]}"
        )
    if set(search_down) != {"503"}:
        result.problems.append(f"search while down answered {dict(search_down)}, not 503")
    if found != len(created):
        result.problems.append(f"after reindex search finds {found} of {len(created)}")
    if loan_hit.status_code != 200:
        result.problems.append(f"loan search after reindex answered {loan_hit.status_code}")
    return result


# ---------------------------------------------------------------------- MongoDB --
# Answers that are a clean failure: 503 (retry, Retry-After) or 202 (recorded PENDING,
# settles by itself); 500, 502 and 504 are not.
CLEAN = {200, 201, 202, 503}


@scenario("mongo_restart", "MongoDB stopped mid-load and started again", own_stack=True)
async def mongo_restart(stack: Stack, size: Size) -> ScenarioResult:
    s = await seed(stack, size.loans)
    dead_before = await stack.dead_lettered()
    load = RepaymentLoad(stack.gateway_url, s.agent, s.loans, size.repayments, size.concurrency)
    async with Observer(stack.amqp_url, stack.settings.amqp_exchange) as observer:
        running = asyncio.create_task(load.run())
        await load.until(size.repayments // 3)
        stopped_at = time.monotonic()
        await asyncio.to_thread(stack.stop_backend, "mongo")

        def refused() -> int:
            return sum(1 for p in load.postings for st in p.statuses if st not in (200, 201))

        async def noticed() -> bool:
            return refused() >= size.concurrency or running.done()

        await eventually(noticed, within=60, what="clients see the database gone")
        await stack.start_backend("mongo")
        back_at = time.monotonic()
        postings = await running
        check = await verify(stack, postings, s.loans, observer=observer, dead_before=dead_before)
    result = ScenarioResult(
        name="mongo_restart",
        title="MongoDB restarted mid-load",
        size=size.label,
        load=_load_text(size),
        fault=f"the MongoDB stand-in stopped (SIGTERM) after a third of the repayments and "
        f"started again on the same port and data; back {back_at - stopped_at:.1f} s later",
        expected_failures="503 with Retry-After while it is away, retried with the same key",
    )
    result.add_postings(postings, during=(stopped_at, back_at),
                        before=(load.started_at, stopped_at))
    result.add_money(check)
    unclean = _attempts_other_than(postings, CLEAN)
    if unclean:
        result.problems.append(f"answers that are not a clean failure: {dict(unclean)}")
    if result.succeeded != result.requests:
        result.problems.append(
            f"{result.requests - result.succeeded} repayments not acknowledged: {result.failures}"
        )
    return result
