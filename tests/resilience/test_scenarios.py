"""Every registered fault scenario (tests/resilience/scenarios_*.py), at the fast size by
default (MF_RESILIENCE_FULL=1: at the driver's full size). Nothing may be lost or posted
twice, and each scenario's own expectations must hold (``ScenarioResult.problems``)."""

from __future__ import annotations

import json

import pytest

from tests.resilience.harness import Stack
from tests.resilience.registry import Scenario, Size, load_all

pytestmark = [pytest.mark.resilience, pytest.mark.timeout(600)]

SCENARIOS = load_all()


def _params() -> list[object]:
    return [
        pytest.param(s, id=name, marks=() if s.fast else pytest.mark.skipif(
            Size.from_env().label == "fast", reason="full size only (MF_RESILIENCE_FULL=1)"))
        for name, s in SCENARIOS.items()
    ]


@pytest.mark.parametrize("scenario", _params())
async def test_scenario(scenario: Scenario, fault_stack: Stack, size: Size) -> None:
    if scenario.own_stack:
        stack = await Stack.start(extra_env=size.stack_env())
        try:
            result = await scenario.run(stack, size)
        finally:
            await stack.close()
    else:
        result = await scenario.run(fault_stack, size)
    print(json.dumps(result.to_json(), indent=1, default=str))
    assert result.lost == 0, result.problems
    assert result.double_posted == 0, result.problems
    assert result.ok, result.problems
