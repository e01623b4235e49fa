"""Every RPC, called directly with bad input, answers a clean status: never INTERNAL.

The RPCs come from the proto descriptors (tests/e2e/grpc_sweep.py), so a new RPC is swept
without a change here. Each one is called with the empty request, a plausible request with
unknown ids (the base), and the base with one field at a time made bad (oversized, negative,
int32/int64 extremes, wrong currency, malformed date, unknown enum number, malformed id, bad
update_mask path), nested messages included; as an admin and as an agent, SERVICE-only RPCs
also with a service token, the empty request also without a token, and one message just under
and one over the 8 MiB receive limit per RPC.

What is checked, per call:
- never INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, CANCELLED, DEADLINE_EXCEEDED, nor
  UNAVAILABLE (every service is up: UNAVAILABLE here would hide an upstream failure);
- without a token: UNAUTHENTICATED (public RPCs excepted); a role the access table does not
  list: PERMISSION_DENIED;
- a strict case (oversized, negative, int min, wrong currency, malformed date, bad enum,
  malformed id, bad mask, near the size limit): INVALID_ARGUMENT whose message or field
  violations name the field, unless EXCEPTIONS below says another clean status is right;
- over the size limit: RESOURCE_EXHAUSTED;
- nothing written: every collection of every service keeps its document count.

It has its own stack (its own database, keys and exchange), so the writes it attempts can
never touch another test's data. ``MF_SWEEP_FULL=1`` adds more malformed values and the
size-limit cases for every caller. The summary line (RPCs, inputs, statuses) is printed
and, with ``MF_SWEEP_REPORT=path``, every call is written there as JSON lines.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.user.v1 import user_pb2
from shared.identity import Role
from shared.runtime import service_identity
from tests.e2e.conftest import Login, Stack, StackBackends
from tests.e2e.grpc_sweep import (
    Case,
    Rpc,
    all_rpcs,
    cases,
    fill,
    near_max_case,
    over_limit_case,
)
from tests.e2e.loan_support import clients, make_borrower, make_product, md
from tests.resilience.registry import ScenarioResult
from tests.resilience.rows import write_row

pytestmark = pytest.mark.e2e

FULL = os.environ.get("MF_SWEEP_FULL") == "1"
REPORT = os.environ.get("MF_SWEEP_REPORT")
CALL_TIMEOUT = 20.0
CONCURRENCY = 8

Code = grpc.StatusCode
NEVER = frozenset(
    {
        Code.INTERNAL,
        Code.UNKNOWN,
        Code.DATA_LOSS,
        Code.UNIMPLEMENTED,
        Code.CANCELLED,
        Code.DEADLINE_EXCEEDED,
        Code.UNAVAILABLE,
    }
)

# RPCs that end the caller's session or change its password: each call gets a fresh login,
# so the sweep's own tokens stay valid.
SESSION_RPCS = {"AuthService.Logout", "AuthService.ChangePassword"}

# The reviewed exceptions to "a strict case is INVALID_ARGUMENT naming the field".
# Key: (RPC, case kind, field path); "*" matches any. Value: the statuses that are right
# instead (INVALID_ARGUMENT stays allowed), and why.
_MERGED = (
    frozenset({Code.NOT_FOUND}),
    "a partial update is checked on the record merged with the change (ranges against each "
    "other, e.g. principal_min <= principal_max), so an unknown id answers first",
)
EXCEPTIONS: dict[tuple[str, str, str], tuple[frozenset[Code], str]] = {
    ("LoanProductService.UpdateProduct", "negative", "*"): _MERGED,
    ("LoanProductService.UpdateProduct", "int-min", "*"): _MERGED,
    ("BorrowerService.UpdateBorrower", "negative", "*"): _MERGED,
    ("BorrowerService.UpdateBorrower", "int-min", "*"): _MERGED,
}


@dataclass
class Caller:
    name: str
    role: Role | None
    token: str
    login: Login | None = None
    # For SESSION_RPCS: fresh tokens of the same person, one per call.
    spare: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    rpc: str
    caller: str
    case: Case
    code: Code
    details: str
    violations: tuple[str, ...]
    problem: str | None


def _violations(err: grpc.aio.AioRpcError) -> tuple[str, ...]:
    try:
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
    except Exception:  # a malformed status detail is itself worth seeing
        return ("<unreadable status details>",)
    fields: list[str] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return tuple(fields)


def _exception(rpc: Rpc, case: Case) -> tuple[frozenset[Code], str] | None:
    for key in (
        (rpc.short, case.kind, case.field),
        (rpc.short, "*", case.field),
        (rpc.short, case.kind, "*"),
        (rpc.short, "*", "*"),
        ("*", case.kind, case.field.rsplit(".", 1)[-1]),
    ):
        if key in EXCEPTIONS:
            return EXCEPTIONS[key]
    return None


def judge(
    rpc: Rpc, roles: frozenset[Role] | None, caller: Caller, case: Case, code: Code,
    details: str, violations: tuple[str, ...],
) -> str | None:  # fmt: skip
    """What is wrong with this answer, or None."""
    if code in NEVER:
        return f"{code.name} is never a clean answer"
    if "metadata size" in details:
        # The answer's message or details echoed the input past the metadata limit: the
        # caller never sees the status the service chose.
        return f"{code.name}: the error did not reach the caller: {details[:120]!r}"
    if case.kind == "over-limit":
        # gRPC refuses the message before any of our code, whoever calls.
        return None if code is Code.RESOURCE_EXHAUSTED else f"{code.name} over the size limit"
    if caller.role is None and roles is not None:
        return None if code is Code.UNAUTHENTICATED else f"{code.name} without a token"
    if roles is not None and caller.role not in roles:
        return None if code is Code.PERMISSION_DENIED else f"{code.name} for a role not allowed"
    if not case.strict:
        return None
    if code is Code.INVALID_ARGUMENT:
        text = details + " " + " ".join(violations)
        if any(name in text for name in case.names):
            return None
        return f"INVALID_ARGUMENT not naming {case.names}: {details[:160]!r}"
    allowed = _exception(rpc, case)
    if allowed is not None and code in allowed[0]:
        return None
    return f"{code.name} where INVALID_ARGUMENT was expected: {details[:160]!r}"


async def counts(stack: Stack) -> dict[str, int]:
    result: dict[str, int] = {}
    for name, infra in stack.infra.items():
        for coll in sorted(await infra.db.list_collection_names()):
            result[f"{name}.{coll}"] = await infra.db[coll].count_documents({})
    return result


async def settled_counts(stack: Stack, deadline_seconds: float = 60.0) -> dict[str, int]:
    """The counts once nothing moves: work the probes started goes on after their answers
    (the end-of-day run they began, events the relays publish and reporting records)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    last = await counts(stack)
    steady = 0
    while steady < 3:
        assert loop.time() < deadline, f"the services kept writing: {last}"
        await asyncio.sleep(0.5)
        now = await counts(stack)
        steady = steady + 1 if now == last else 0
        last = now
    return last


@dataclass
class Seeds:
    staff_email: str
    agent_id: str
    product_code: str
    document_number: str


def base_for(rpc: Rpc, seeds: Seeds) -> Callable[[], Message]:
    """The plausible request; creates point at an existing unique key (ALREADY_EXISTS), so
    a case whose bad field is ignored still writes nothing."""

    def build() -> Message:
        msg = fill(rpc.request())
        m: Any = msg
        if rpc.short == "UserService.CreateStaff":
            m.email = seeds.staff_email
        elif rpc.short == "LoanProductService.CreateProduct":
            m.product.code = seeds.product_code
            # Fixed fee and penalty (1,000) below the principal range, as the rules want.
            m.product.principal_min.amount_minor = 10_000
            m.product.principal_max.amount_minor = 500_000
        elif rpc.short == "AuthService.CreateCredential":
            m.username = seeds.staff_email
        elif rpc.short == "BorrowerService.CreateBorrower":
            m.borrower.identity_documents[0].number = seeds.document_number
            m.borrower.assigned_agent_id = seeds.agent_id
        _no_report_currency(msg)
        return msg

    return build


def _no_report_currency(msg: Message) -> None:
    """Report filters: every currency (a currency the empty portfolio never saw is refused,
    which would hide the field each case is about)."""
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        for item in value if fd.is_repeated else [value]:
            if item.DESCRIPTOR.full_name == "microfinance.reporting.v1.ReportFilter":
                item.currency = ""
            else:
                _no_report_currency(item)


@pytest.fixture(scope="module")
async def sweep_stack(
    stack_backends: StackBackends, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with stack_backends.open(tmp_path_factory.mktemp("sweep-data")) as running:
        yield running


async def _login(auth: auth_pb2_grpc.AuthServiceStub, login: Login | None) -> str:
    assert login is not None
    reply = await auth.Login(auth_pb2.LoginRequest(username=login.email, password=login.password))
    token: str = reply.access_token
    return token


async def test_every_rpc_answers_bad_input_cleanly(
    sweep_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = sweep_stack
    started = time.perf_counter()
    admin = await stack.admin_login()
    agent = await stack.ready_staff(admin)
    async with clients(stack) as c:
        product = await make_product(c, admin)
        borrower_id = await make_borrower(c, agent, admin)
        borrower = await c.borrowers.GetBorrower(
            user_pb2.GetBorrowerRequest(id=borrower_id), metadata=md(admin)
        )
    seeds = Seeds(
        staff_email=agent.email,
        agent_id=agent.staff_id,
        product_code=product.code,
        document_number=borrower.borrower.identity_documents[0].number,
    )
    service_token = await service_identity(stack.infra["payment"]).token()

    channels = {
        name: grpc.aio.insecure_channel(
            host.address,
            options=[
                ("grpc.max_send_message_length", -1),
                # Between gRPC's soft (8 KiB) and hard limits a large trailer is refused only
                # sometimes; one limit makes an answer that echoes a long input always fail.
                ("grpc.max_metadata_size", 8 * 1024),
                ("grpc.absolute_max_metadata_size", 8 * 1024),
            ],
        )
        for name, host in stack.hosts.items()
    }
    auth = auth_pb2_grpc.AuthServiceStub(channels["auth"])

    admin_caller = Caller("admin", Role.ADMIN, admin.access_token, admin)
    agent_caller = Caller("agent", Role.AGENT, agent.access_token, agent)
    service_caller = Caller("service", Role.SERVICE, service_token)
    nobody = Caller("no token", None, "")

    access: dict[str, Any] = {}
    for host in stack.hosts.values():
        access.update(host.definition.access)

    rpcs = all_rpcs()
    unserved = sorted({r.host for r in rpcs} - set(stack.hosts))
    assert not unserved, f"services in proto/ without a running host: {unserved}"

    plan: list[tuple[Rpc, Caller, Case]] = []
    for rpc in rpcs:
        rule = access.get(rpc.path)
        assert rule is not None, f"{rpc.path} has no access rule"
        base = base_for(rpc, seeds)
        callers = [admin_caller, agent_caller]
        if rule.roles == frozenset({Role.SERVICE}):
            callers.append(service_caller)
        all_cases = cases(rpc, base, full=FULL)
        if rpc.short == "AuthService.RotateKeys":
            # A field-less write: nothing bad to send, and each call adds a signing key.
            callers = [agent_caller]
        for caller in callers:
            plan.extend((rpc, caller, case) for case in all_cases)
        plan.append((rpc, nobody, all_cases[0]))
        big = [near_max_case(rpc, base), over_limit_case(rpc)]
        for case in big:
            if case is None:
                continue
            for caller in callers if FULL else callers[:1]:
                plan.append((rpc, caller, case))

    # Session RPCs get tokens issued now, so logging in is not counted as a write below.
    for caller in (admin_caller, agent_caller):
        needed = sum(1 for r, c, _ in plan if c is caller and r.short in SESSION_RPCS)
        caller.spare = [await _login(auth, caller.login) for _ in range(needed)]

    gate = asyncio.Semaphore(CONCURRENCY)
    outcomes: list[Outcome] = []

    async def call(rpc: Rpc, caller: Caller, case: Case) -> None:
        async with gate:
            method = channels[rpc.host].unary_unary(
                rpc.path,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=rpc.response.FromString,
            )
            token = caller.token
            if rpc.short in SESSION_RPCS and caller.spare:
                token = caller.spare.pop()
            metadata = (("authorization", f"Bearer {token}"),) if token else ()
            details, violations = "", tuple[str, ...]()
            try:
                await method(case.build(), metadata=metadata, timeout=CALL_TIMEOUT)
                code = Code.OK
            except grpc.aio.AioRpcError as err:
                code, details, violations = err.code(), err.details() or "", _violations(err)
        rule = access[rpc.path]
        problem = judge(rpc, rule.roles, caller, case, code, details, violations)
        outcomes.append(Outcome(rpc.short, caller.name, case, code, details, violations, problem))

    # Probes first (some are valid writes: the empty RunEndOfDay closes today, a payment for
    # an unknown loan is kept as REJECTED), then the strict cases, which must write nothing.
    probes = [item for item in plan if not item[2].strict]
    strict = [item for item in plan if item[2].strict]
    try:
        await asyncio.gather(*(call(*item) for item in probes))
        before = await settled_counts(stack)
        await asyncio.gather(*(call(*item) for item in strict))
        after = await settled_counts(stack)
    finally:
        for channel in channels.values():
            await channel.close(None)
    elapsed = time.perf_counter() - started

    statuses = collections.Counter(o.code.name for o in outcomes)
    summary = (
        f"gRPC input sweep: {len(rpcs)} RPCs in {len({r.service.full_name for r in rpcs})} "
        f"services, {len(outcomes)} calls ({sum(1 for o in outcomes if o.case.strict)} strict), "
        f"{elapsed:.1f}s; statuses: "
        + ", ".join(f"{name} {n}" for name, n in statuses.most_common())
    )
    with capsys.disabled():
        print("\n" + summary)
    if REPORT:
        lines = [
            json.dumps(
                {
                    "rpc": o.rpc,
                    "caller": o.caller,
                    "kind": o.case.kind,
                    "field": o.case.field,
                    "value": o.case.value[:60],
                    "strict": o.case.strict,
                    "code": o.code.name,
                    "details": o.details[:300],
                    "violations": o.violations,
                    "problem": o.problem,
                }
            )
            for o in outcomes
        ]
        text = "\n".join(lines) + "\n"
        await asyncio.to_thread(Path(REPORT).write_text, text, encoding="utf-8")

    problems = sorted(
        f"{o.rpc} as {o.caller}: {o.case.kind} {o.case.field} = {o.case.value[:40]}: {o.problem}"
        for o in outcomes
        if o.problem
    )
    written = {k: (before.get(k, 0), n) for k, n in after.items() if n != before.get(k, 0)}
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:200])
    assert not written, f"bad input wrote documents (before, after): {written}"
    caller_names = sorted({o.caller for o in outcomes})
    write_row(
        ScenarioResult(
            name="input_sweep",
            title="gRPC bad-input sweep",
            size="full" if FULL else "fast",
            load=(
                f"every RPC: {len(rpcs)} in {len({r.service.full_name for r in rpcs})} services, "
                f"called directly as {', '.join(caller_names)}"
            ),
            fault=(
                "bad input in every field: empty, oversized (4,096 and 10,000 chars; messages "
                "over 8 MiB), negative and extreme numbers, wrong currencies, malformed dates, "
                "unknown enum numbers, malformed and unknown ids"
            ),
            requests=len(outcomes),
            attempts=len(outcomes),
            succeeded=len(outcomes),
            attempt_statuses=dict(statuses),
            figures={
                "checks": "no INTERNAL, UNKNOWN or deadline; "
                + ", ".join(f"{name} {n:,}" for name, n in statuses.most_common())
                + f"; {sum(1 for o in outcomes if o.case.strict):,} strict cases wrote no document"
            },
            seconds=elapsed,
        )
    )
