"""Each service's one declarative access table names every RPC of its contracts, and only those."""

from __future__ import annotations

import importlib

import pytest

from microfinance.auth.v1 import auth_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2
from microfinance.reporting.v1 import reporting_pb2
from microfinance.user.v1 import user_pb2

SERVED = {
    "auth_service": [auth_pb2.DESCRIPTOR.services_by_name["AuthService"]],
    "user_service": [
        user_pb2.DESCRIPTOR.services_by_name["UserService"],
        user_pb2.DESCRIPTOR.services_by_name["BorrowerService"],
    ],
    "loan_service": [
        loan_pb2.DESCRIPTOR.services_by_name["LoanProductService"],
        loan_pb2.DESCRIPTOR.services_by_name["LoanService"],
    ],
    "payment_service": [payment_pb2.DESCRIPTOR.services_by_name["PaymentService"]],
    "reporting_service": [reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"]],
}


@pytest.mark.parametrize("package", sorted(SERVED))
def test_access_table_covers_exactly_the_contract(package: str) -> None:
    table = importlib.import_module(f"{package}.grpc_api").ACCESS
    expected = {
        f"/{service.full_name}/{method.name}"
        for service in SERVED[package]
        for method in service.methods
    }
    assert set(table) == expected


def test_only_the_token_endpoints_are_public() -> None:
    table = importlib.import_module("auth_service.grpc_api").ACCESS
    public = sorted(name.rsplit("/", 1)[1] for name, access in table.items() if access.public)
    # Each proves itself in the request: a password, a refresh token, the token to check,
    # the service secret; the keys are public by nature.
    assert public == ["GetPublicKeys", "IssueServiceToken", "Login", "Refresh", "ValidateToken"]
    for package in ("user_service", "loan_service", "payment_service", "reporting_service"):
        table = importlib.import_module(f"{package}.grpc_api").ACCESS
        assert not [name for name, access in table.items() if access.public], package
