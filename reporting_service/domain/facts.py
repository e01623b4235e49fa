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


__all__ = ["CollectionFact", "DisbursementFact", "InstallmentDue", "InstallmentPayment"]
