"""The fault suite at full size: every scenario of tests/resilience against real processes,
with figures; ``--markdown`` writes the table into docs/reliability.md.

Each scenario (tests/resilience/scenarios_*.py) holds a load through the gateway, injects
its fault (a TCP proxy to RabbitMQ cut, a service SIGKILLed, a backend stopped ...) and
checks the money afterwards. The scenarios share one stack of the six processes
(tests/resilience/harness.py) unless one asks for its own; everything it started is stopped
and removed at the end. Two checks that are pytest tests of their own run after them, each
adding its row: two replicas of every process under load (tests/resilience/test_replicas.py)
and the gRPC bad-input sweep (tests/e2e/test_grpc_input_sweep.py).

    python bench/chaos.py                      # every scenario, full size (2,000 repayments)
    python bench/chaos.py --fast               # the size CI runs
    python bench/chaos.py --only rabbitmq_cut,sigkill_loan,replicas,input_sweep
    python bench/chaos.py --markdown           # and rewrite docs/reliability.md's table
    python bench/chaos.py --json results.json  # and keep every figure

Exits 1 when any scenario lost or double-posted anything, or failed its own checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.resilience.harness import Stack  # noqa: E402
from tests.resilience.registry import Scenario, ScenarioResult, Size, load_all  # noqa: E402
from tests.resilience.rows import ROW_ENV, read_rows  # noqa: E402

DOC = REPO / "docs" / "reliability.md"
# Checks that are pytest tests of their own, not scenarios on a Stack: run as a subprocess,
# each writes its row (tests/resilience/rows.py); at full size with its own variable.
TESTS = {
    "replicas": ("tests/resilience/test_replicas.py", "MF_RESILIENCE_FULL"),
    "input_sweep": ("tests/e2e/test_grpc_input_sweep.py", "MF_SWEEP_FULL"),
}
BEGIN, END = "<!-- chaos:table -->", "<!-- /chaos:table -->"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _latency(r: ScenarioResult) -> str:
    before = f"{_ms(r.p50_before_ms)} / {_ms(r.p99_before_ms)}"
    during = f"{_ms(r.p50_during_ms)} / {_ms(r.p99_during_ms)}"
    return f"{before} → {during}"


def _failed(r: ScenarioResult) -> str:
    if not r.failures:
        return "0"
    return ", ".join(f"{n:,} x {status}" for status, n in sorted(r.failures.items()))


def checks_text(r: ScenarioResult) -> str:
    """The figures behind "lost 0": what each store counted."""
    f = r.figures
    parts: list[str] = []
    if "payments_posted" in f:
        parts.append(
            f"POSTED {f['payments_posted']:,} = loan repayments {f['loan_repayments']:,}"
        )
    if "outbox_posted_events" in f:
        published = f.get("published_distinct")
        again = f.get("published_again", 0)
        text = f"outbox {f['outbox_posted_events']:,}"
        if published is not None:
            text += f" = published {published:,}" + (f" (+{again:,} again)" if again else "")
        text += f" = reported {f.get('reporting_posted_events', 0):,}"
        parts.append(text)
    if "loan_repaid_minor" in f:
        parts.append(
            f"money {f['posted_minor']:,} = {f['loan_repaid_minor']:,} = "
            f"{f.get('reporting_collected_minor', 0):,}"
        )
    if "outbox_waiting_at_restore" in f:
        parts.append(f"{f['outbox_waiting_at_restore']:,} events waited in the outbox")
    if r.figures.get("checks"):
        parts.append(str(r.figures["checks"]))
    return "; ".join(parts) or "-"


def table(results: list[ScenarioResult]) -> str:
    rows = [
        "| scenario | load held | fault injected | inputs tried (requests / attempts) | "
        "failed | p50 / p99 ms, before → during | checks | lost | double-posted |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r.title} | {r.load} | {r.fault} | {r.requests:,} / {r.attempts:,} | "
            f"{_failed(r)} | {_latency(r)} | {checks_text(r)} | **{r.lost}** | "
            f"**{r.double_posted}** |"
        )
    return "\n".join(rows)


def print_result(r: ScenarioResult) -> None:
    verdict = "ok" if r.ok else "FAILED"
    print(f"\n== {r.name}: {r.title} ({r.size}, {r.seconds:.0f} s) {verdict}")
    print(f"   load:     {r.load}")
    print(f"   fault:    {r.fault}")
    print(f"   requests: {r.requests:,}, attempts {r.attempts:,}, succeeded {r.succeeded:,}, "
          f"failed {_failed(r)}")
    print(f"   answers:  {dict(sorted(r.attempt_statuses.items()))}")
    print(f"   latency:  p50 / p99 ms before → during: {_latency(r)}")
    print(f"   checks:   {checks_text(r)}")
    print(f"   lost {r.lost}, double-posted {r.double_posted}")
    for problem in r.problems:
        print(f"   PROBLEM: {problem}")


def write_markdown(results: list[ScenarioResult], size: Size, seconds: float) -> None:
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} block to fill")
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    machine = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    block = (
        f"{BEGIN}\n"
        f"Measured {when} by `python bench/chaos.py --markdown` at the **{size.label}** size "
        f"({machine}; {seconds:.0f} s in all).\n\n{table(results)}\n{END}"
    )
    DOC.write_text(
        re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S),
        encoding="utf-8",
    )
    print(f"\nwrote the table into {DOC.relative_to(REPO)}")


async def run(chosen: list[Scenario], size: Size) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    shared: Stack | None = None
    try:
        for sc in chosen:
            print(f"\n-- {sc.name}: {sc.title} ...", flush=True)
            if sc.own_stack:
                stack = await Stack.start(extra_env=size.stack_env())
                try:
                    result = await sc.run(stack, size)
                finally:
                    await stack.close()
            else:
                if shared is None:
                    shared = await Stack.start(extra_env=size.stack_env())
                result = await sc.run(shared, size)
            print_result(result)
            results.append(result)
    finally:
        if shared is not None:
            await shared.close()
    return results


def run_tests(names: list[str], size: Size) -> list[ScenarioResult]:
    """The pytest-backed checks' rows; a test that fails gives a FAILED row, not none."""
    results: list[ScenarioResult] = []
    for name in names:
        path, full_env = TESTS[name]
        print(f"\n-- {name}: pytest {path} ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            rows = Path(tmp) / "rows.jsonl"
            env = {**os.environ, ROW_ENV: str(rows)}
            env[full_env] = "1" if size.label == "full" else "0"
            began = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "pytest", path, "-q", "-p", "no:cacheprovider"],
                cwd=REPO, env=env, check=False,
            )
            found = [r for r in read_rows(rows) if r.name == name]
        if done.returncode != 0 or not found:
            failed = ScenarioResult(name, name, size.label, "-", "-",
                                    seconds=time.monotonic() - began)
            failed.problems.append(f"pytest {path} exited {done.returncode}")
            found = [failed]
        for result in found:
            print_result(result)
        results.extend(found)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="the size CI runs")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--markdown", action="store_true", help="rewrite docs/reliability.md")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()

    scenarios = load_all()
    known = [*scenarios, *TESTS]
    names = [n for n in args.only.split(",") if n] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(known)}")
    size = Size.fast() if args.fast else Size.full()
    began = time.monotonic()
    results = asyncio.run(run([scenarios[n] for n in names if n in scenarios], size))
    results += run_tests([n for n in names if n in TESTS], size)
    seconds = time.monotonic() - began
    print(f"\n{table(results)}\n\n{len(results)} scenarios in {seconds:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=1, default=str))
    if args.markdown:
        write_markdown(results, size, seconds)
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
