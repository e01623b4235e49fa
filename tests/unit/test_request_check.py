"""The shared request shape: ids, dates, currencies, enum numbers, lengths, counts."""

from __future__ import annotations

import pytest

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2
from microfinance.reporting.v1 import reporting_pb2
from microfinance.user.v1 import user_pb2
from shared.errors import InvalidArgument
from shared.grpc.request_check import MAX_TEXT, check_request, request_violations


def fields(message: object) -> list[str]:
    return [v.field for v in request_violations(message)]  # type: ignore[arg-type]


def test_a_plausible_request_passes() -> None:
    request = payment_pb2.PostPaymentRequest(
        idempotency_key="k-1",
        loan_id="4dd509b3d9c0404eafb7cba288bc6ddb",
        amount=common_pb2.Money(amount_minor=500, currency="usd"),
        value_date="2026-06-01",
        channel=common_pb2.CASH,
    )
    check_request(request)


@pytest.mark.parametrize(
    "bad_id", ['{"$ne": null}', "../../etc/passwd", "two words", "x" * 129, "-leading"]
)
def test_a_malformed_id_is_named(bad_id: str) -> None:
    assert fields(loan_pb2.GetLoanRequest(id=bad_id)) == ["id"]


@pytest.mark.parametrize("day", ["2026-13-45", "yesterday", "2026-02-30", "20260601"])
def test_a_malformed_date_is_named_with_its_path(day: str) -> None:
    request = reporting_pb2.GetParRequest(filter=reporting_pb2.ReportFilter(as_of_date=day))
    assert fields(request) == ["filter.as_of_date"]


@pytest.mark.parametrize("code", ["XXX", "US", "DOLLARS"])
def test_an_unknown_currency_is_named(code: str) -> None:
    request = loan_pb2.PreviewScheduleRequest(
        principal=common_pb2.Money(amount_minor=1, currency=code)
    )
    assert fields(request) == ["principal.currency"]


def test_unknown_enum_numbers_and_negative_counts_are_named() -> None:
    request = user_pb2.ListStaffRequest(page=common_pb2.PageRequest(page_size=-1))
    request.role = 99  # type: ignore[assignment]
    assert sorted(fields(request)) == ["page.page_size", "role"]
    assert fields(loan_pb2.ApproveLoanRequest(id="a1", expected_version=-1)) == ["expected_version"]


def test_any_string_over_the_cap_is_named_without_echoing_it() -> None:
    request = user_pb2.BatchGetBorrowersRequest(ids=["ok-id", "x" * (MAX_TEXT + 1)])
    with pytest.raises(InvalidArgument) as err:
        check_request(request)
    assert [v.field for v in err.value.violations] == ["ids[1]"]
    assert len(err.value.message) < 100


def test_empty_values_are_left_to_the_services() -> None:
    request = user_pb2.ListStaffRequest(branch_id="")
    assert fields(request) == []
    # An optional id set to "" (an admin's credential has no agent id) is not malformed.
    from microfinance.auth.v1 import auth_pb2

    assert fields(auth_pb2.UpdateCredentialRequest(staff_id="s1", agent_id="")) == []


def test_a_resource_s_fields_are_named_from_inside_it() -> None:
    request = user_pb2.CreateBorrowerRequest(
        borrower=user_pb2.Borrower(
            date_of_birth="1990-02-30",
            employment=user_pb2.Employment(
                monthly_income=common_pb2.Money(amount_minor=1, currency="ZZZ")
            ),
        )
    )
    assert sorted(fields(request)) == ["date_of_birth", "employment.monthly_income.currency"]


def test_a_status_never_carries_a_long_echo_of_the_input() -> None:
    from shared.grpc.status import MAX_DESCRIPTION, MAX_MESSAGE, to_grpc_status

    echo = "x" * 4096
    err = InvalidArgument.field("annual_rate", f"must be a decimal string, got {echo!r}")
    status = to_grpc_status(err)
    assert len(status.details) <= MAX_MESSAGE
    metadata = dict(status.trailing_metadata)
    # The packed google.rpc.Status (message and BadRequest) stays far below 8 KiB.
    assert len(metadata["grpc-status-details-bin"]) < MAX_MESSAGE * 2 + MAX_DESCRIPTION * 2
