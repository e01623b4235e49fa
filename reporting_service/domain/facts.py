"""What the reports are computed from, besides the end-of-day snapshot rows.

The read models hold these facts, built from the events; the report
functions take them as plain values. Amounts are minor units of
``currency``. The ids (agent, branch, product) are the ones recorded on the
fact, i.e. as they were when the money moved.

Snapshot rows are ``shared.portfolio.LoanSnapshot``: end of day writes them
and every "as of a date" figure (portfolio, PAR, aging, trend) reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class DisbursementFact:
    """A loan disbursed (``loan.disbursed``)."""

    loan_id: str
    borrower_id: str
    agent_id: str
    branch_id: str
    product_id: str
    currency: str
    disbursement_date: date
    principal: int
    upfront_fee: int = 0
    # Set by ``loan.written_off``: its date and the amount the write-off took.
    written_off_on: date | None = None
    written_off_amount: int = 0

    @property
    def net_disbursed(self) -> int:
        """The cash handed to the borrower."""
        return self.principal - self.upfront_fee


@dataclass(frozen=True, slots=True)
class CollectionFact:
    """Money received on a loan: a repayment, or a recovery after a write-off.

    ``reversed`` is set once the payment is reversed (a bounced payment):
    the loan's replay then treats it as never received, and so do the
    reports, which show it apart as reversed. ``recovery`` is the part
    received after the write-off (the whole amount for a recovery).
    """

    transaction_id: str
    loan_id: str
    agent_id: str
    branch_id: str
    product_id: str
    currency: str
    value_date: date
    amount: int
    channel: str = ""
    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0
    recovery: int = 0
    reversed: bool = False


@dataclass(frozen=True, slots=True)
class ApplicationFact:
    """A loan's way through approval, from ``loan.submitted`` to its disbursement.

    Each date is the business date of the first event of its kind (the
    disbursement date for ``loan.disbursed``); ``left_on`` is the first of
    rejection, withdrawal and disbursement, when the loan left the pipeline.
    """

    loan_id: str
    agent_id: str
    branch_id: str
    product_id: str
    currency: str
    submitted_on: date | None = None
    approved_on: date | None = None
    left_on: date | None = None

    def pending_approval(self, day: date) -> bool:
        """Submitted and waiting for a decision at the end of ``day``."""
        return (_on_or_before(self.submitted_on, day) and not self.approved(day)
                and not _on_or_before(self.left_on, day))

    def approved_not_disbursed(self, day: date) -> bool:
        return self.approved(day) and not _on_or_before(self.left_on, day)

    def approved(self, day: date) -> bool:
        return _on_or_before(self.approved_on, day)


def _on_or_before(value: date | None, day: date) -> bool:
    return value is not None and value <= day


@dataclass(frozen=True, slots=True)
class InstallmentDue:
    """One scheduled installment of a loan falling due.

    ``amount`` is its scheduled principal + interest + fee (penalties are
    not scheduled). The read model keeps only installments still to collect
    on their due date: none of a loan written off on or before it (the
    write-off took them), none of a loan paid off before it.
    """

    loan_id: str
    agent_id: str
    currency: str
    installment_number: int
    due_date: date
    amount: int


@dataclass(frozen=True, slots=True)
class InstallmentPayment:
    """The part of one effective (not reversed) repayment allocated to one installment.

    As the loan's replay allocates it, so a backdated payment that moves
    later allocations is reflected. ``amount`` is principal + interest + fee
    paid to the installment; ``penalty`` the penalty paid on it.
    """

    loan_id: str
    agent_id: str
    currency: str
    installment_number: int
    due_date: date
    value_date: date
    amount: int
    penalty: int = 0


__all__ = [
    "ApplicationFact",
    "CollectionFact",
    "DisbursementFact",
    "InstallmentDue",
    "InstallmentPayment",
]
