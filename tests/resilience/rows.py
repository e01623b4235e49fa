"""Rows of docs/reliability.md's table from checks that run as pytest tests of their own
(the replicas test, the gRPC input sweep) rather than as scenarios on a ``Stack``.

`bench/chaos.py` runs such a test with ``MF_RELIABILITY_ROW`` naming a file; the test, once
every assertion has passed, appends its ``ScenarioResult`` there as one JSON line, and the
driver puts it in the table beside the scenarios'. Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from tests.resilience.registry import ScenarioResult

ROW_ENV = "MF_RELIABILITY_ROW"


def write_row(result: ScenarioResult) -> None:
    path = os.environ.get(ROW_ENV)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(result), default=str) + "\n")


def read_rows(path: Path) -> list[ScenarioResult]:
    if not path.exists():
        return []
    names = {f.name for f in fields(ScenarioResult)}
    rows: list[ScenarioResult] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data: dict[str, Any] = json.loads(line)
        rows.append(ScenarioResult(**{k: v for k, v in data.items() if k in names}))
    return rows
