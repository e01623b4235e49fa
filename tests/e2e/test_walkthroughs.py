"""The docs' curl walk-throughs, run as a new user would run them.

Each walk-through is a script under docs/walkthroughs/ that its page shows verbatim
(after a ``<!-- walkthrough: docs/walkthroughs/NAME.sh -->`` marker). The scripts run
one after another in one bash, with curl, against the gateway listening on a real
port, backed by the end-to-end stack's services; each run brings its own emails,
document and phone numbers and product code.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Login, Stack, serve_http

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "docs" / "walkthroughs"
# In the order a new user follows them; each continues in the shell of the one before.
WALKTHROUGHS = (
    ("security.sh", "security.md"),
    ("borrowers.sh", "borrowers.md"),
    ("loans.sh", "loans.md"),
    ("payments.sh", "payments.md"),
)
MARKER = re.compile(r"<!-- walkthrough: (docs/walkthroughs/[\w.-]+) -->\n```sh\n(.*?)```", re.S)


def shown_in_docs() -> dict[str, tuple[str, str]]:
    """Script path -> (page, block) for every marked block in docs/."""
    shown: dict[str, tuple[str, str]] = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        for match in MARKER.finditer(page.read_text(encoding="utf-8")):
            assert match.group(1) not in shown, f"{match.group(1)} is shown twice"
            shown[match.group(1)] = (page.name, match.group(2))
    return shown


def test_docs_show_the_scripts_verbatim() -> None:
    shown = shown_in_docs()
    scripts = {f"docs/walkthroughs/{p.name}" for p in SCRIPTS.glob("*.sh")}
    assert set(shown) == scripts, "every script is shown on one page, and only those"
    for script, page in WALKTHROUGHS:
        path = f"docs/walkthroughs/{script}"
        assert shown[path][0] == page
        assert shown[path][1] == (SCRIPTS / script).read_text(encoding="utf-8"), (
            f"docs/{page} no longer shows {path} as it is; copy the script into the page"
        )


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


async def test_walkthroughs_run_against_a_listening_gateway(
    stack: Stack, admin: Login, tmp_path: Path
) -> None:
    for tool in ("bash", "curl", "python3"):
        assert shutil.which(tool), f"the walk-throughs need {tool} on PATH"
    run = uuid.uuid4().hex[:8]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "ADMIN_EMAIL": stack.admin.email,
        "ADMIN_PASSWORD": stack.admin.password,
        "AGENT_EMAIL": f"amina-{run}@mfi-e2e.org",
        "ID_NUMBER": f"7{_digits(7)}",
        "PHONE": f"07{_digits(8)}",
        "PRODUCT_CODE": f"WALK-{run}".upper(),
    }
    # set -e stops at the first failing step; pipefail makes a failed curl count too.
    sourced = "\n".join(f'. "{SCRIPTS / script}"' for script, _ in WALKTHROUGHS)
    program = (
        f"set -euo pipefail\n{sourced}\n"
        'printf "RESULT %s %s %s %s\\n" "$BORROWER" "$LOAN" "$PAY" "$PRODUCT"\n'
    )
    async with serve_http(stack) as base_url:
        env["API"] = f"{base_url}/api/v1"
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            program,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out_b, err_b = await asyncio.wait_for(proc.communicate(), timeout=180)
        out, err = out_b.decode(), err_b.decode()
        assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"

    lines = out.splitlines()
    borrower, loan, payment, _product = lines[-1].removeprefix("RESULT ").split()
    # What the scripts print, as their comments say.
    assert env["AGENT_EMAIL"] in lines  # /me
    for status in ("APPROVED", "VERIFIED", "ACTIVE"):
        assert status in lines
    assert "300000" in lines, "the payoff quote on the disbursement day is the principal"
    assert '{"amount_minor": 53000, "currency": "USD"}' in lines, "paid day 0: all principal"
    assert "REVERSED" in lines

    # And what the system now holds.
    c, h = stack.client, admin.headers
    b = (await c.get(f"/api/v1/borrowers/{borrower}", headers=h)).json()
    assert b["kyc_status"] == "VERIFIED"
    assert b["identity_documents"][0]["number"] == env["ID_NUMBER"]
    got = (await c.get(f"/api/v1/loans/{loan}", headers=h)).json()
    assert got["status"] == "ACTIVE"
    assert got["borrower_id"] == borrower
    rows = (await c.get(f"/api/v1/loans/{loan}/schedule", headers=h)).json()["rows"]
    assert [r["total_due"]["amount_minor"] for r in rows] == [53_000] * 6
    paid = (await c.get(f"/api/v1/payments?loan_id={loan}", headers=h)).json()["payments"]
    # Sent twice with one key: one payment, now reversed.
    assert [(p["id"], p["status"]) for p in paid] == [(payment, "REVERSED")]
    receipt = paid[0]["receipt_number"]
    assert receipt in (tmp_path / "receipt.html").read_text(encoding="utf-8")
    assert (tmp_path / "receipt.pdf").read_bytes().startswith(b"%PDF")
    assert receipt in lines, "the replayed post answers with the first receipt"
