"""The loan status state machine, maker-checker and loan numbers.

SUBMITTED -> APPROVED -> ACTIVE -> CLOSED; SUBMITTED -> REJECTED | WITHDRAWN;
APPROVED -> REJECTED; ACTIVE -> WRITTEN_OFF. Everything else is
FailedPrecondition naming the current state.

One system move is added: CLOSED -> ACTIVE (REOPEN). It is never a user
action; the service uses it when reversing the repayment that closed a loan
(a bounced payment), because the replayed state is then no longer paid off.
"""

from __future__ import annotations

import re
from enum import StrEnum

from shared.errors import FailedPrecondition, InvalidArgument


class LoanStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    WRITTEN_OFF = "WRITTEN_OFF"


class LoanAction(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    WITHDRAW = "WITHDRAW"
    DISBURSE = "DISBURSE"
    CLOSE = "CLOSE"
    WRITE_OFF = "WRITE_OFF"
    REOPEN = "REOPEN"


# For messages: "it cannot be <participle>".
_PARTICIPLE: dict[LoanAction, str] = {
    LoanAction.APPROVE: "approved",
    LoanAction.REJECT: "rejected",
    LoanAction.WITHDRAW: "withdrawn",
    LoanAction.DISBURSE: "disbursed",
    LoanAction.CLOSE: "closed",
    LoanAction.WRITE_OFF: "written off",
    LoanAction.REOPEN: "reopened",
}

TRANSITIONS: dict[tuple[LoanStatus, LoanAction], LoanStatus] = {
    (LoanStatus.SUBMITTED, LoanAction.APPROVE): LoanStatus.APPROVED,
    (LoanStatus.SUBMITTED, LoanAction.REJECT): LoanStatus.REJECTED,
    (LoanStatus.SUBMITTED, LoanAction.WITHDRAW): LoanStatus.WITHDRAWN,
    (LoanStatus.APPROVED, LoanAction.REJECT): LoanStatus.REJECTED,
    (LoanStatus.APPROVED, LoanAction.DISBURSE): LoanStatus.ACTIVE,
    (LoanStatus.ACTIVE, LoanAction.CLOSE): LoanStatus.CLOSED,
    (LoanStatus.ACTIVE, LoanAction.WRITE_OFF): LoanStatus.WRITTEN_OFF,
    (LoanStatus.CLOSED, LoanAction.REOPEN): LoanStatus.ACTIVE,
}

TERMINAL_STATUSES = frozenset({LoanStatus.REJECTED, LoanStatus.WITHDRAWN, LoanStatus.WRITTEN_OFF})
# Loans that count against a product's max_active_loans_per_borrower.
OPEN_STATUSES = frozenset({LoanStatus.SUBMITTED, LoanStatus.APPROVED, LoanStatus.ACTIVE})


def allowed_actions(current: LoanStatus) -> frozenset[LoanAction]:
    return frozenset(action for (status, action) in TRANSITIONS if status is current)


def can(current: LoanStatus, action: LoanAction) -> bool:
    return (current, action) in TRANSITIONS


def transition(current: LoanStatus, action: LoanAction) -> LoanStatus:
    """The status after ``action``; FailedPrecondition naming the current state otherwise."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise FailedPrecondition(
            f"loan is {current.value}; it cannot be {_PARTICIPLE[action]}"
        ) from None


def check_maker_checker(submitted_by: str, approver: str) -> None:
    """The approver must be a different person from the submitter."""
    if not approver:
        raise InvalidArgument.field("approver", "is required")
    if approver == submitted_by:
        raise FailedPrecondition(
            "maker-checker: a loan must be approved by someone other than the staff member "
            "who submitted it"
        )


_LOAN_NUMBER = re.compile(r"LN-([0-9]{4})-([0-9]{6,})")


def format_loan_number(year: int, sequence: int) -> str:
    """(2026, 123) -> "LN-2026-000123"; sequences past 999999 simply grow wider."""
    if not 1000 <= year <= 9999:
        raise InvalidArgument.field("year", "must have four digits")
    if sequence < 1:
        raise InvalidArgument.field("sequence", "must be at least 1")
    return f"LN-{year:04d}-{sequence:06d}"


def parse_loan_number(text: str) -> tuple[int, int]:
    """"LN-2026-000123" -> (2026, 123); InvalidArgument on anything else."""
    cleaned = text.strip().upper()
    match = _LOAN_NUMBER.fullmatch(cleaned)
    # Only the canonical spelling: one loan, one number.
    if match is None or format_loan_number(int(match[1]), int(match[2])) != cleaned:
        raise InvalidArgument.field("loan_number", "must look like LN-2026-000123")
    return int(match[1]), int(match[2])


__all__ = [
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "LoanAction",
    "LoanStatus",
    "allowed_actions",
    "can",
    "check_maker_checker",
    "format_loan_number",
    "parse_loan_number",
    "transition",
]
