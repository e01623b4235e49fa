#!/usr/bin/env python3
"""pip-audit over requirements.lock (what the image installs); exit 1 on a known vulnerability.

    python scripts/audit_deps.py [--strict] [pip-audit options, e.g. --ignore-vuln ID]

pip-audit asks its vulnerability service (PyPI's per-release JSON by default, or OSV) about
every locked version. Where that service cannot be reached (a network that lets through
package downloads only), pip-audit marks every dependency "could not be audited" and
exits 0: this script says so loudly, and exits 1 only with ``--strict`` (or
``MF_AUDIT_STRICT=1``), so CI on such a network is not blocked by what it cannot know, yet
never reports a skipped audit as a clean one.

Where the per-release JSON is unreachable but the per-project JSON answers (seen on such
networks), a skipped package whose pin is its project's latest release is audited from
the project JSON's ``vulnerabilities``, which PyPI publishes for the latest release only.
An older pin stays "not audited": listed, and failing only with ``--strict``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PROJECT_JSON = "https://pypi.org/pypi/{name}/json"

Fetch = Callable[[str], dict[str, Any] | None]


def locked_versions(lock_text: str) -> dict[str, str]:
    """Normalised name -> pinned version, from a pip-compile lock."""
    pins: dict[str, str] = {}
    for line in lock_text.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pins[_normal(name)] = rest.split()[0].rstrip("\\").strip()
    return pins


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def fetch_project(name: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(PROJECT_JSON.format(name=name), timeout=20) as answer:  # noqa: S310 - fixed https URL
            data: dict[str, Any] = json.load(answer)
            return data
    except (OSError, ValueError):
        return None


def audit_skipped_from_projects(
    report: dict[str, Any], pins: dict[str, str], fetch: Fetch = fetch_project
) -> dict[str, Any]:
    """The report with each skipped package audited from its project JSON where its pin
    is the latest release (the only release that JSON speaks for)."""
    deps: list[dict[str, Any]] = []
    for dep in report.get("dependencies", []):
        if not dep.get("skip_reason"):
            deps.append(dep)
            continue
        name = str(dep["name"])
        pinned = dep.get("version") or pins.get(_normal(name))
        project = fetch(name) if pinned else None
        latest = (project or {}).get("info", {}).get("version")
        if project is None or latest != pinned:
            why = (
                "its project JSON is unreachable too" if project is None
                else f"pinned {pinned}, latest {latest}: only the latest release's are published"
            )
            deps.append({**dep, "skip_reason": f"{dep['skip_reason']}; {why}"})
            continue
        vulns = [
            {"id": v.get("id"), "fix_versions": list(v.get("fixed_in") or [])}
            for v in project.get("vulnerabilities") or []
            if not v.get("withdrawn")
        ]
        deps.append({"name": name, "version": pinned, "vulns": vulns, "source": "project JSON"})
    return {**report, "dependencies": deps}


def verdict(report: dict[str, Any], *, strict: bool) -> tuple[int, list[str]]:
    """Exit code and lines to print for a pip-audit JSON report."""
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    lines: list[str] = []
    if vulnerable:
        lines.append(f"{len(vulnerable)} locked package(s) with known vulnerabilities:")
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
                lines.append(f"  {dep['name']}=={dep['version']}  {vuln['id']}  (fixed in {fixed})")
        lines.append("bump the pins: raise the lower bound in pyproject.toml, then `make lock`")
        return 1, lines
    if deps and len(skipped) == len(deps):
        lines.append(
            f"NOT AUDITED: the vulnerability service answered for none of the {len(deps)} "
            "locked packages (unreachable from this network?); first reason: "
            f"{skipped[0]['skip_reason']}"
        )
        return (1 if strict else 0), lines
    audited = len(deps) - len(skipped)
    if skipped:
        lines.append(f"NOT AUDITED: {len(skipped)} of {len(deps)} locked packages (`make lock` "
                     "moves pins to the latest releases, which can be audited here):")
        lines += [f"  {d['name']}: {d['skip_reason']}" for d in skipped]
        lines.append(f"{audited} locked packages audited: no known vulnerabilities")
        return (1 if strict else 0), lines
    lines.append(f"{audited} locked packages audited: no known vulnerabilities")
    return 0, lines


def main(argv: list[str]) -> int:
    strict = "--strict" in argv or os.environ.get("MF_AUDIT_STRICT") == "1"
    extra = [a for a in argv if a != "--strict"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [
            sys.executable, "-m", "pip_audit",
            "--requirement", str(LOCK),
            # The lock is complete and hashed: audit it as written, no resolving venv.
            "--require-hashes", "--disable-pip",
            "--progress-spinner", "off",
            "--format", "json", "--output", str(out),
            *extra,
        ]
        # Its own summary says "No known vulnerabilities found" even when it audited
        # nothing; the verdict below is the one to read, so its output shows on error only.
        result = subprocess.run(  # noqa: S603 - fixed tool invocation
            command, capture_output=True, text=True, check=False
        )
        if not out.exists() or result.returncode not in (0, 1):
            print(result.stdout + result.stderr, file=sys.stderr)
            print(f"pip-audit did not finish (exit {result.returncode})", file=sys.stderr)
            return 2
        report = json.loads(out.read_text())
    report = audit_skipped_from_projects(report, locked_versions(LOCK.read_text()))
    code, lines = verdict(report, strict=strict)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
