"""The payments bench's `--json` object carries issue 15's keys, from the figures measured."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_payments", ROOT / "bench" / "bench_payments.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_summary_has_the_issue_keys_per_level_and_at_32() -> None:
    b = bench()
    levels = [
        b.Level(1, 40, 20.0, 45.0, 80.0, 100.0, 30.0, 50.0),
        b.Level(8, 120, 40.0, 180.0, 300.0, 80.0, 20.0, 40.0),
        b.Level(32, 120, 50.0, 600.0, 900.0, 100.0, 12.5, None),
    ]
    out = b.summary("in-process", levels, 11.5, 4.0)
    assert json.loads(json.dumps(out)) == out  # plain JSON, one object
    assert out["shape"] == "in-process"
    assert out["cpu_ms_per_post"] == 12.5  # at 32 in flight, not another level
    assert out["db_cpu_ms_per_post"] is None
    assert out["mongo_round_trips_per_post"] == 11.5
    assert out["redis_round_trips_per_post"] == 4.0
    assert out["ratio_at_32"] == 0.5
    assert out["posts_per_s"] == {"1": 20.0, "8": 40.0, "32": 50.0}
    assert out["p99_ms"] == {"1": 80.0, "8": 300.0, "32": 900.0}


def test_summary_without_32_in_flight_says_so() -> None:
    b = bench()
    out = b.summary("deployed", [b.Level(1, 40, 20.0, 45.0, 80.0, 100.0, 30.0, None)], None, None)
    assert out["shape"] == "deployed"
    assert out["cpu_ms_per_post"] is None
    assert out["ratio_at_32"] is None
    assert out["posts_per_s"] == {"1": 20.0}
