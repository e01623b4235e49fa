"""The roles written next to each loan RPC (loan.proto, docs/api.md) match the access table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loan_service.grpc_api import ACCESS, LOAN_SERVICE, PRODUCT_SERVICE
from shared.identity import Role

ROOT = Path(__file__).resolve().parents[2]
PROTO = (ROOT / "proto/microfinance/loan/v1/loan.proto").read_text()
API_DOC = (ROOT / "docs/api.md").read_text()


def rpcs() -> list[tuple[str, str]]:
    return [
        (service, path.rsplit("/", 1)[1])
        for path in ACCESS
        for service in (LOAN_SERVICE, PRODUCT_SERVICE)
        if path.startswith(f"/{service}/")
    ]


def proto_comment(method: str) -> str:
    lines = PROTO.splitlines()
    for index, line in enumerate(lines):
        if re.match(rf"\s*rpc {method}\(", line):
            return lines[index - 1].strip()
    raise AssertionError(f"rpc {method} not in loan.proto")


def doc_roles(method: str) -> str:
    for line in API_DOC.splitlines():
        if line.startswith(f"| `{method}` |"):
            return line.split("|")[2]
    raise AssertionError(f"{method} has no row in docs/api.md")


@pytest.mark.parametrize(("service", "method"), rpcs())
def test_service_role_is_written_where_it_is_allowed(service: str, method: str) -> None:
    roles = ACCESS[f"/{service}/{method}"].roles
    assert roles is not None
    allowed = Role.SERVICE in roles
    comment = proto_comment(method)
    roles_text = comment.split(".")[0]
    assert ("SERVICE" in roles_text) is allowed, comment
    assert ("SERVICE" in doc_roles(method)) is allowed, doc_roles(method)
    # Admin-only RPCs do not claim agents, and the reverse ("any authenticated": both).
    for text in (roles_text, doc_roles(method)):
        assert ("AGENT" in text or "any authenticated" in text) is (Role.AGENT in roles), text


def test_every_loan_rpc_is_in_the_access_table() -> None:
    declared = set(re.findall(r"^\s*rpc (\w+)\(", PROTO, re.MULTILINE))
    assert declared == {method for _, method in rpcs()}
