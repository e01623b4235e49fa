"""The Grafana dashboard in docs/grafana reads only metrics the processes export, and
``up`` gives each process a /metrics port of its own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401  (defines every metric in the registry)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "microfinance-dashboard.json"
# A metric name: a word not followed by "(" (a function) or preceded by "{"/"," (a label).
_NAME = re.compile(r"(?<![\w{,=\"])([a-z_][a-z0-9_]*)(?![\w(])")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
    "stateset": ("",),
    "info": ("_info",),
    "unknown": ("",),
}


def exported_names() -> set[str]:
    """Every sample name the registry can produce (also for metrics with no series yet)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "{}", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "[]", without_labels)
    # Grouping clauses name labels, not metrics: by (route), on (instance) ...
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ",
                  without_ranges)
    words = set(_NAME.findall(bare))
    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "and", "or", "unless", "sum", "min", "max", "avg", "count", "topk",
                "bottomk", "quantile", "stddev", "group"}
    return words - keywords


def test_every_metric_the_dashboard_reads_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names()
    used: set[str] = set()
    for expr in expressions(dashboard["panels"]):
        used |= metric_names(expr)
    assert used, "no expressions found"
    assert {n for n in used if n.startswith("microfinance_")}, used
    missing = sorted(used - exported)
    assert not missing, f"the dashboard reads metrics nobody exports: {missing}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (route, method) (rate(microfinance_http_requests_total{job=~"$job"}[5m]))',
            {"microfinance_http_requests_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket[$__rate_interval])))",
            {"a_seconds_bucket"},
        ),
        ("max(x) / max(y) * 1000", {"x", "y"}),
        ("max by (phase) (phase == 1)", {"phase"}),
    ],
)
def test_metric_names_are_found_in_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_checker_sees_a_name_nobody_exports() -> None:
    assert "microfinance_no_such_metric_total" not in exported_names()
    assert "microfinance_http_requests_total" in exported_names()


def test_up_gives_each_process_its_own_metrics_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from microfinance_cli.services import SERVICES
    from microfinance_cli.stack import DEFAULT_METRICS_PORT, metrics_ports
    from shared.config import Settings

    monkeypatch.delenv("MF_METRICS_PORT", raising=False)
    ports = metrics_ports(Settings())
    assert list(ports) == [s.name for s in SERVICES]
    assert sorted(ports.values()) == list(
        range(DEFAULT_METRICS_PORT, DEFAULT_METRICS_PORT + len(SERVICES))
    )
    monkeypatch.setenv("MF_METRICS_PORT", "19100")
    assert metrics_ports(Settings())["auth"] == 19100
    assert metrics_ports(Settings())["gateway"] == 19100 + len(SERVICES) - 1
    monkeypatch.setenv("MF_METRICS_PORT", "0")
    assert metrics_ports(Settings()) == {}
