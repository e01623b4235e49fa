"""scripts/audit_deps.py: how a pip-audit report of requirements.lock becomes CI's verdict."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit_deps.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLEAN = {"name": "redis", "version": "8.2.0", "vulns": []}
VULNERABLE = {
    "name": "jinja2", "version": "3.1.4",
    "vulns": [{"id": "GHSA-q2x7-8rv6-6q7h", "fix_versions": ["3.1.5"], "aliases": []}],
}
SKIPPED = {"name": "rich", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_vulnerable_pin_fails_and_names_the_fix(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, VULNERABLE]}, strict=False)
    assert code == 1
    assert any("jinja2==3.1.4" in line and "3.1.5" in line for line in lines)


def test_clean_passes(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, CLEAN]}, strict=True)
    assert code == 0
    assert "no known vulnerabilities" in lines[-1]


def test_an_unreachable_service_is_reported_not_audited(audit: ModuleType) -> None:
    report = {"dependencies": [SKIPPED, SKIPPED]}
    code, lines = audit.verdict(report, strict=False)
    assert code == 0
    assert lines[0].startswith("NOT AUDITED")
    assert audit.verdict(report, strict=True)[0] == 1


def test_a_partial_skip_fails(audit: ModuleType) -> None:
    code, _ = audit.verdict({"dependencies": [CLEAN, SKIPPED]}, strict=False)
    assert code == 1
