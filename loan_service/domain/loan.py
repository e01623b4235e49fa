"""The loan and loan product records: what a loan *is* between its transactions.

``ledger.replay`` derives money state; these records hold everything else:
who asked for what, who decided, the product terms as they were at
submission, the frozen schedule once disbursed and the transaction list.
They are immutable values; a use case builds the next version with
``dataclasses.replace`` and stores it with a compare-and-set on ``version``.

``LoanFacts`` are the few derived figures stored next to a loan so lists,
filters and the search index need no replay. They are exact at any business
date except where noted: a loan's transactions never have a future value
date, so the oldest unsettled installment (``arrears_since``) only changes
when a transaction is written, and DPD on a later date follows from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from loan_service.domain.ledger import LoanState, Transaction, replay
from loan_service.domain.lifecycle import LoanAction, LoanStatus, transition
from loan_service.domain.products import ProductTerms
from loan_service.domain.schedule import Schedule
from shared.errors import FieldViolation, InvalidArgument
from shared.records import Audited
from shared.text import single_line

# arrears_since for a loan with nothing unsettled: sorts after every real date ordinal.
NO_ARREARS = 9_999_999
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,39}")
MAX_NAME = 120
MAX_DESCRIPTION = 1000
MAX_PURPOSE = 500
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class LoanProduct(Audited):
    """A loan product. Never deleted; ``active`` decides whether new loans may use it."""

    id: str
    code: str
    name: str
    description: str
    terms: ProductTerms
    active: bool = True
    deactivation_reason: str = ""

    @property
    def currency(self) -> str:
        return self.terms.currency


def normalize_code(value: str, field_name: str = "code") -> str:
    """Product codes are upper case: "grp-weekly-12" and "GRP-WEEKLY-12" are one code."""
    code = value.strip().upper()
    if not code:
        raise InvalidArgument.field(field_name, "is required")
    if not _CODE.fullmatch(code):
        raise InvalidArgument.field(
            field_name,
            "must be 1-40 letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return code


def check_product_text(name: str, description: str) -> tuple[str, str]:
    problems: list[FieldViolation] = []
    clean_name = " ".join(name.split())
    if not clean_name:
        problems.append(FieldViolation("name", "is required"))
    elif len(clean_name) > MAX_NAME:
        problems.append(FieldViolation("name", f"must be at most {MAX_NAME} characters"))
    clean_description = description.strip()
    if len(clean_description) > MAX_DESCRIPTION:
        problems.append(
            FieldViolation("description", f"must be at most {MAX_DESCRIPTION} characters")
        )
    if problems:
        raise InvalidArgument.fields(problems)
    return clean_name, clean_description


def check_reason(value: str, field_name: str = "reason", *, required: bool = True) -> str:
    return single_line(value, field_name, MAX_REASON, required=required)


@dataclass(frozen=True, slots=True)
class LoanFacts:
    """Derived figures stored with the loan for lists, filters and search."""

    # Business date the amounts were computed for (the date of the last write).
    as_of: date | None = None
    outstanding_principal: int = 0
    total_outstanding: int = 0
    days_past_due: int = 0
    # date.toordinal() of the oldest unsettled installment's due date; NO_ARREARS if none.
    arrears_since: int = NO_ARREARS
    next_due_date: date | None = None

    def days_past_due_on(self, business_date: date) -> int:
        return max(0, business_date.toordinal() - self.arrears_since)


def facts_of(state: LoanState) -> LoanFacts:
    """The stored figures of a replayed state (see the module docstring)."""
    unsettled = [row.due_date for row in state.installments if row.unpaid > 0]
    open_book = not state.closed and not state.written_off
    return LoanFacts(
        as_of=state.as_of,
        outstanding_principal=state.outstanding_principal,
        total_outstanding=state.total_outstanding,
        days_past_due=state.days_past_due,
        arrears_since=min(unsettled).toordinal() if unsettled and open_book else NO_ARREARS,
        next_due_date=state.next_due_date,
    )


@dataclass(frozen=True, slots=True)
class Loan:
    """One loan application and, once disbursed, its ledger. Amounts are minor units."""

    id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    agent_id: str
    branch_id: str
    product_id: str
    # The product as it was at submission; its terms price and schedule the loan for good.
    product: LoanProduct
    status: LoanStatus
    principal: int
    installments: int
    purpose: str
    note: str
    submitted_date: date
    submitted_by: str
    submitted_at: datetime | None
    approved_by: str = ""
    approved_at: datetime | None = None
    approval_note: str = ""
    rejected_by: str = ""
    rejected_at: datetime | None = None
    rejection_reason: str = ""
    withdrawn_by: str = ""
    withdrawn_at: datetime | None = None
    withdrawal_reason: str = ""
    disbursed_by: str = ""
    disbursed_at: datetime | None = None
    disbursement_note: str = ""
    disbursement_date: date | None = None
    # Frozen at disbursement.
    schedule: Schedule | None = None
    transactions: tuple[Transaction, ...] = ()
    closed_date: date | None = None
    written_off_by: str = ""
    written_off_at: datetime | None = None
    write_off_reason: str = ""
    written_off_date: date | None = None
    facts: LoanFacts = field(default_factory=LoanFacts)
    updated_by: str = ""
    updated_at: datetime | None = None
    version: int = 1

    @property
    def terms(self) -> ProductTerms:
        return self.product.terms

    @property
    def currency(self) -> str:
        return self.product.terms.currency

    @property
    def disbursed(self) -> bool:
        return self.schedule is not None

    def moved(self, action: LoanAction) -> LoanStatus:
        """The status after ``action``; FailedPrecondition naming the current one otherwise."""
        return transition(self.status, action)


def status_after_replay(
    current: LoanStatus, state: LoanState
) -> tuple[LoanStatus, LoanAction | None]:
    """Where a disbursed loan stands after its ledger changed, and the move that got it there.

    Paid off -> CLOSED; a reversal that un-pays a closed loan -> ACTIVE again
    (REOPEN); a written-off loan stays WRITTEN_OFF whatever it recovers.
    """
    if current is LoanStatus.WRITTEN_OFF or state.written_off:
        return LoanStatus.WRITTEN_OFF, None
    if state.closed and current is LoanStatus.ACTIVE:
        return transition(current, LoanAction.CLOSE), LoanAction.CLOSE
    if not state.closed and current is LoanStatus.CLOSED:
        return transition(current, LoanAction.REOPEN), LoanAction.REOPEN
    return current, None


def with_facts(loan: Loan, as_of: date) -> Loan:
    """``loan`` with its stored figures recomputed by replay as of ``as_of`` (as on a write)."""
    if loan.schedule is None:
        return loan
    state = replay(loan.terms, loan.schedule, loan.transactions, as_of)
    return replace(loan, facts=facts_of(state))


__all__ = [
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "MAX_PURPOSE",
    "MAX_REASON",
    "NO_ARREARS",
    "Loan",
    "LoanFacts",
    "LoanProduct",
    "check_product_text",
    "check_reason",
    "facts_of",
    "normalize_code",
    "status_after_replay",
    "with_facts",
]

