"""shared.heap.settle: the serving processes' collector settings (in a child process,
since a freeze would hold on to this test process's objects)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from shared import heap
before = gc.get_threshold()
heap.settle({threshold})
print(json.dumps({{"before": before, "after": gc.get_threshold(),
                   "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}}))
"""


def _settle(threshold: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(threshold=threshold)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_settle_freezes_the_heap_and_raises_the_youngest_threshold() -> None:
    result = _settle(12_345)
    before, after = result["before"], result["after"]
    assert isinstance(before, list)
    assert isinstance(after, list)
    assert after == [12_345, before[1], before[2]]
    assert isinstance(result["frozen"], int)
    assert result["frozen"] > 1_000
    assert result["enabled"] is True  # still collects what serving leaves in cycles


def test_zero_leaves_the_collector_as_cpython_sets_it() -> None:
    result = _settle(0)
    assert result["after"] == result["before"]
    assert result["frozen"] == 0
