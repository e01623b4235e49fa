"""Schemathesis over the whole OpenAPI of the gateway, as an admin and as an agent.

The fuzzer follows ids it reads from list responses and will approve, write off
and reverse whatever it finds, so it gets a stack of its own (never the shared
``stack``): its own database, indices, keys and exchange, removed afterwards.
The gateway of that stack is served over real HTTP on a free port, and the
``schemathesis`` command line runs against it in a subprocess, the same command
docs/api.md gives for a longer run.

Bounded for CI (a few examples per operation); ``MF_FUZZ_EXAMPLES=200`` runs
longer, ``MF_FUZZ_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.e2e.conftest import SERVICES, Login, Stack, open_stack, serve_http
from tests.e2e.loan_support import clients, make_borrower
from tests.e2e.payment_support import loan_for, portfolio, post

pytestmark = pytest.mark.e2e

# Response checks: no 5xx, every response (status, headers, content type, body) as the
# OpenAPI documents it. Then the ones that judge how requests are handled: schema-invalid
# input must be refused (negative_data_rejection), every operation must refuse a request
# without its token (ignored_auth) or without a required header, and undocumented methods
# must get a 405. positive_data_acceptance stays off: a schema-valid body may still break
# a business rule (409/422). use_after_free and ensure_resource_availability have nothing
# to check: nothing is ever deleted.
CHECKS = os.environ.get("MF_FUZZ_CHECKS") or ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "ignored_auth",
        "missing_required_header",
        "unsupported_method",
    )
)
EXAMPLES = int(os.environ.get("MF_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("MF_FUZZ_SEED", "20261206")
# The CI run skips the stateful phase (its chains are long); the longer run has them all.
PHASES = "examples,coverage,fuzzing,stateful" if EXAMPLES > 5 else "examples,coverage,fuzzing"
MAX_TIME = int(os.environ.get("MF_FUZZ_MAX_SECONDS", "70" if EXAMPLES <= 5 else "1800"))


ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    stack: Stack
    base_url: str
    admin: Login
    agent: Login


async def seed(stack: Stack, admin: Login) -> Login:
    """An agent with a borrower, an active loan, a payment and a pending application,
    so list responses hand the fuzzer ids that reach real records."""
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p)
        r = await post(stack, p.agent, loan.id, 5_000)
        assert r.status_code == 201, r.text
        # A second borrower with an application still waiting for approval.
        borrower = await make_borrower(c, p.agent, admin, first_name="Wanjiku")
        r = await stack.client.post(
            "/api/v1/loans",
            json={
                "borrower_id": borrower,
                "product_id": p.product.id,
                "principal": {"amount_minor": 50_000, "currency": "USD"},
                "installments": 4,
                "purpose": "seed",
            },
            headers=p.agent.headers,
        )
        assert r.status_code == 201, r.text
    return p.agent


@pytest.fixture(scope="module")
async def served(
    mongo_url: str,
    redis_url: str,
    es_url: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
    es_client: AsyncElasticsearch,
    redis_client: Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Served]:
    async with open_stack(
        mongo_url=mongo_url,
        redis_url=redis_url,
        es_url=es_url,
        mongo_client=mongo_client,
        es_client=es_client,
        redis_client=redis_client,
        data_dir=tmp_path_factory.mktemp("fuzz-data"),
        # All of them (reporting included), so /readyz can answer 200.
        services=SERVICES,
        # Wrong old passwords (POST /auth/password) count towards the lockout: five would lock
        # the fuzzed account out of the rest of the run. The lockout has its own tests.
        login_max_failures=1_000_000,
    ) as stack:
        admin = await stack.admin_login()
        agent = await seed(stack, admin)
        async with serve_http(stack) as base_url:
            yield Served(stack, base_url, admin, agent)


def failures(junit: Path) -> list[str]:
    """Operation and message of every failed or errored test case in the JUnit report."""
    found: list[str] = []
    # Our own report, written by the subprocess this test started.
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314
        for problem in [*case.findall("failure"), *case.findall("error")]:
            text = (problem.get("message") or "") + "\n" + (problem.text or "")
            found.append(f"{case.get('name')}: {text.strip()[:2000]}")
    return found


async def run_schemathesis(base_url: str, who: Login, report_dir: Path) -> list[str]:
    junit = report_dir / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        PHASES,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--max-time",
        str(MAX_TIME),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=report_dir,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_auth",
            "PYTHONPATH": str(ROOT),
            "MF_FUZZ_BASE_URL": base_url,
            "MF_FUZZ_EMAIL": who.email,
            "MF_FUZZ_PASSWORD": who.password,
        },
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    (report_dir / "output.txt").write_text(text)
    assert junit.exists(), text[-4000:]
    found = failures(junit)
    if process.returncode != 0 and not found:
        found.append(text[-4000:])
    return found


# The agent runs first: the admin run deactivates and resets whomever it finds.
@pytest.mark.timeout(600)
async def test_agent_over_the_whole_api(served: Served, tmp_path: Path) -> None:
    found = await run_schemathesis(served.base_url, served.agent, tmp_path)
    assert not found, "\n\n".join(found)


@pytest.mark.timeout(600)
async def test_admin_over_the_whole_api(served: Served, tmp_path: Path) -> None:
    found = await run_schemathesis(served.base_url, served.admin, tmp_path)
    assert not found, "\n\n".join(found)
