"""The loan status machine: every allowed and every refused transition."""

from __future__ import annotations

import pytest

from loan_service.domain.lifecycle import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    LoanAction,
    LoanStatus,
    allowed_actions,
    can,
    check_maker_checker,
    format_loan_number,
    parse_loan_number,
    transition,
)
from shared.errors import FailedPrecondition, InvalidArgument

S = LoanStatus
A = LoanAction

ALLOWED = {
    (S.SUBMITTED, A.APPROVE): S.APPROVED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.APPROVED, A.REJECT): S.REJECTED,
    (S.APPROVED, A.DISBURSE): S.ACTIVE,
    (S.ACTIVE, A.CLOSE): S.CLOSED,
    (S.ACTIVE, A.WRITE_OFF): S.WRITTEN_OFF,
    # System move: reversing the payment that closed the loan.
    (S.CLOSED, A.REOPEN): S.ACTIVE,
}
PARTICIPLES = {
    A.APPROVE: "approved",
    A.REJECT: "rejected",
    A.WITHDRAW: "withdrawn",
    A.DISBURSE: "disbursed",
    A.CLOSE: "closed",
    A.WRITE_OFF: "written off",
    A.REOPEN: "reopened",
}
REFUSED = [(s, a) for s in LoanStatus for a in LoanAction if (s, a) not in ALLOWED]


def test_the_table_is_exactly_the_design() -> None:
    assert ALLOWED == TRANSITIONS


@pytest.mark.parametrize(("current", "action"), list(ALLOWED))
def test_allowed_transitions(current: LoanStatus, action: LoanAction) -> None:
    assert transition(current, action) is ALLOWED[(current, action)]
    assert can(current, action)
    assert action in allowed_actions(current)


@pytest.mark.parametrize(("current", "action"), REFUSED)
def test_refused_transitions_name_the_current_state(
    current: LoanStatus, action: LoanAction
) -> None:
    with pytest.raises(FailedPrecondition) as info:
        transition(current, action)
    assert str(info.value) == f"loan is {current.value}; it cannot be {PARTICIPLES[action]}"
    assert not can(current, action)


def test_refused_count() -> None:
    # 7 statuses x 7 actions, 8 allowed.
    assert len(REFUSED) == 49 - 8


def test_example_message() -> None:
    with pytest.raises(FailedPrecondition, match=r"^loan is ACTIVE; it cannot be approved$"):
        transition(S.ACTIVE, A.APPROVE)


def test_terminal_statuses_have_no_way_out() -> None:
    for status in TERMINAL_STATUSES:
        assert allowed_actions(status) == frozenset()
    assert allowed_actions(S.CLOSED) == {A.REOPEN}
    assert {S.SUBMITTED, S.APPROVED, S.ACTIVE} == OPEN_STATUSES


def test_maker_checker() -> None:
    check_maker_checker("agent-1", "admin-2")
    with pytest.raises(FailedPrecondition, match="someone other than the staff member"):
        check_maker_checker("admin-2", "admin-2")
    with pytest.raises(InvalidArgument):
        check_maker_checker("agent-1", "")


@pytest.mark.parametrize(
    ("year", "sequence", "text"),
    [
        (2026, 123, "LN-2026-000123"),
        (2026, 1, "LN-2026-000001"),
        (2027, 999_999, "LN-2027-999999"),
        (2027, 1_234_567, "LN-2027-1234567"),
    ],
)
def test_loan_numbers(year: int, sequence: int, text: str) -> None:
    assert format_loan_number(year, sequence) == text
    assert parse_loan_number(text) == (year, sequence)


@pytest.mark.parametrize(("year", "sequence"), [(999, 1), (10_000, 1), (2026, 0), (2026, -5)])
def test_loan_number_bounds(year: int, sequence: int) -> None:
    with pytest.raises(InvalidArgument):
        format_loan_number(year, sequence)


@pytest.mark.parametrize(
    "text", ["LN-2026-123", "LN-26-000123", "XX-2026-000123", "LN-2026-0001234"]
)
def test_loan_number_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_loan_number(text)
