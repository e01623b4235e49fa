"""The fault scenarios, by name: each runs a load against a ``Stack``, injects its fault and
returns a ``ScenarioResult``. pytest runs them small (``Size.fast()``), the driver
(`python bench/chaos.py`) at full size; docs/reliability.md is the driver's table.

A scenario module is any ``tests/resilience/scenarios_*.py``: it registers its functions
with ``@scenario(...)`` when imported, and ``load_all()`` imports every one of them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.resilience.harness import MoneyCheck, Posting, Stack, latency_ms

FULL_ENV = "MF_RESILIENCE_FULL"


@dataclass(frozen=True)
class Size:
    """How much load a scenario holds: ``repayments`` over ``loans``, ``concurrency`` in
    flight (and ``creates`` where the load is borrower creates)."""

    label: str
    repayments: int
    loans: int
    concurrency: int
    creates: int

    @classmethod
    def fast(cls) -> Size:
        return cls("fast", repayments=200, loans=10, concurrency=16, creates=60)

    @classmethod
    def full(cls) -> Size:
        return cls("full", repayments=2_000, loans=40, concurrency=32, creates=400)

    def stack_env(self) -> dict[str, str]:
        """Settings of the stack for this size. The fast size shortens how long a payment
        caught by a crash waits (the lease of a dead process, the re-drive backoff), so CI
        runs in minutes; the full size keeps the defaults (30 s, 60 s)."""
        if self.label == "fast":
            return {"MF_PAYMENT_LEASE_SECONDS": "8", "MF_PAYMENT_RETRY_MAX_SECONDS": "4"}
        return {}

    @classmethod
    def from_env(cls) -> Size:
        return cls.full() if os.environ.get(FULL_ENV) == "1" else cls.fast()


@dataclass
class ScenarioResult:
    """One row of docs/reliability.md's table, and the figures behind it."""

    name: str
    title: str
    size: str  # "fast" or "full"
    load: str  # what was held, e.g. "2,000 repayments, 32 in flight, 40 loans"
    fault: str  # what was done, and for how long
    requests: int = 0  # distinct operations (keys)
    attempts: int = 0  # HTTP requests sent, the client's retries included
    succeeded: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # final answer -> count
    attempt_statuses: dict[str, int] = field(default_factory=dict)  # every answer -> count
    p50_before_ms: float | None = None
    p99_before_ms: float | None = None
    p50_during_ms: float | None = None
    p99_during_ms: float | None = None
    lost: int = 0
    double_posted: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    expected_failures: str = ""  # what the scenario allows to fail (e.g. "503, retryable")
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and self.lost == 0 and self.double_posted == 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def add_postings(self, postings: list[Posting], during: tuple[float, float],
                     before: tuple[float, float] | None = None) -> None:
        """Counts and latencies from a repayment load. ``during``: the fault's monotonic
        window (postings in flight at any moment of it); ``before``: a window before it
        (postings begun and answered within it)."""
        self.requests += len(postings)
        self.attempts += sum(len(p.statuses) for p in postings)
        self.succeeded += sum(1 for p in postings if p.acknowledged)
        for p in postings:
            if not p.acknowledged:
                key = str(p.final)
                self.failures[key] = self.failures.get(key, 0) + 1
            for s in p.statuses:
                self.attempt_statuses[str(s)] = self.attempt_statuses.get(str(s), 0) + 1
        if before is not None:
            self.p50_before_ms, self.p99_before_ms, n = latency_ms(postings, *before)
            self.figures["postings_before_fault"] = n
        self.p50_during_ms, self.p99_during_ms, n = latency_ms(postings, *during, overlap=True)
        self.figures["postings_during_fault"] = n
        last = max((p.finished for p in postings if p.finished), default=during[1])
        # How long after the fault ended the last client had its answer.
        self.figures["all_answered_s_after_fault"] = round(max(0.0, last - during[1]), 1)

    def add_money(self, check: MoneyCheck) -> None:
        self.lost += check.lost
        self.double_posted += check.double_posted
        self.figures.update(check.figures)
        self.problems.extend(check.problems)


ScenarioFn = Callable[[Stack, Size], Awaitable[ScenarioResult]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: ScenarioFn
    # A scenario that leaves the stack unusable for the next one (or wants a fresh one).
    own_stack: bool = False
    # In the fast subset pytest runs by default (CI).
    fast: bool = True


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, title: str, *, own_stack: bool = False, fast: bool = True
             ) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS and SCENARIOS[name].run is not fn:
            raise ValueError(f"scenario {name!r} registered twice")

        async def timed(stack: Stack, size: Size) -> ScenarioResult:
            began = time.monotonic()
            result = await fn(stack, size)
            result.seconds = round(time.monotonic() - began, 1)
            return result

        SCENARIOS[name] = Scenario(name, title, timed, own_stack, fast)
        return fn

    return register


def load_all() -> dict[str, Scenario]:
    """Imports every ``scenarios_*`` module beside this one; returns the registry."""
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("scenarios_"):
            importlib.import_module(f"tests.resilience.{info.name}")
    return SCENARIOS
