"""scripts/audit_deps.py: how a pip-audit report of requirements.lock becomes CI's verdict."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
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


def test_a_partial_skip_is_listed_and_fails_only_when_strict(audit: ModuleType) -> None:
    report = {"dependencies": [CLEAN, SKIPPED]}
    code, lines = audit.verdict(report, strict=False)
    assert code == 0
    assert lines[0].startswith("NOT AUDITED: 1 of 2")
    assert any(line.strip().startswith("rich:") for line in lines)
    assert audit.verdict(report, strict=True)[0] == 1


LOCK = """\
# comment line
aio-pika==10.2.1 \\
    --hash=sha256:abc
    # via microfinance
Jinja2==3.1.4 \\
    --hash=sha256:def
"""


def test_the_lock_gives_each_pin(audit: ModuleType) -> None:
    assert audit.locked_versions(LOCK) == {"aio-pika": "10.2.1", "jinja2": "3.1.4"}


def project(version: str, *vulns: Mapping[str, object]) -> dict[str, object]:
    return {"info": {"version": version}, "vulnerabilities": list(vulns)}


SKIP = "Dependency not found on PyPI and could not be audited"


def test_a_latest_pin_is_audited_from_its_project_json(audit: ModuleType) -> None:
    vuln = {"id": "PYSEC-1", "fixed_in": ["3.1.5"], "aliases": [], "withdrawn": None}
    withdrawn = {"id": "PYSEC-0", "fixed_in": [], "withdrawn": "2026-01-01"}
    projects = {"jinja2": project("3.1.4", vuln, withdrawn), "aio-pika": project("10.2.1")}
    report = {"dependencies": [{"name": "jinja2", "skip_reason": SKIP},
                               {"name": "aio-pika", "skip_reason": SKIP}]}
    filled = audit.audit_skipped_from_projects(report, audit.locked_versions(LOCK), projects.get)
    code, lines = audit.verdict(filled, strict=True)
    assert code == 1
    assert any("jinja2==3.1.4" in line and "PYSEC-1" in line and "3.1.5" in line for line in lines)
    assert not any("PYSEC-0" in line for line in lines)


def test_an_older_pin_stays_not_audited(audit: ModuleType) -> None:
    projects = {"jinja2": project("3.1.6"), "aio-pika": project("10.2.1")}
    report = {"dependencies": [{"name": "jinja2", "skip_reason": SKIP},
                               {"name": "aio-pika", "skip_reason": SKIP}]}
    filled = audit.audit_skipped_from_projects(report, audit.locked_versions(LOCK), projects.get)
    code, lines = audit.verdict(filled, strict=False)
    assert code == 0
    assert any("jinja2" in line and "pinned 3.1.4, latest 3.1.6" in line for line in lines)
    assert lines[-1].startswith("1 locked packages audited")
    assert audit.verdict(filled, strict=True)[0] == 1
