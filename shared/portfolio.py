"""The arrears scale and the per-loan snapshot row, shared by end of day and reporting.

End of day (loan_service) writes one ``LoanSnapshot`` per loan and business
date; reporting_service computes every portfolio report from those rows.
Both sides must agree on what a row means and where the arrears buckets
start, so both live here, as plain values with no I/O.

Buckets (docs/design.md: Arrears) by days past due: ``current`` (0),
``1-30``, ``31-60``, ``61-90``, ``91-180`` and ``>180``. The labels are the
ones the reporting proto names (``AgingBucket.label``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ArrearsBucket(StrEnum):
    CURRENT = "current"
    DPD_1_30 = "1-30"
    DPD_31_60 = "31-60"
    DPD_61_90 = "61-90"
    DPD_91_180 = "91-180"
    OVER_180 = ">180"

    @property
    def min_days(self) -> int:
        return _BOUNDS[self][0]

    @property
    def max_days(self) -> int | None:
        """Inclusive upper bound; None for the open-ended last bucket."""
        return _BOUNDS[self][1]

    @property
    def rank(self) -> int:
        """0 for current, then 1..5 in order of growing arrears."""
        return _RANK[self]

    @property
    def in_arrears(self) -> bool:
        return self is not ArrearsBucket.CURRENT


_BOUNDS: dict[ArrearsBucket, tuple[int, int | None]] = {
    ArrearsBucket.CURRENT: (0, 0),
    ArrearsBucket.DPD_1_30: (1, 30),
    ArrearsBucket.DPD_31_60: (31, 60),
    ArrearsBucket.DPD_61_90: (61, 90),
    ArrearsBucket.DPD_91_180: (91, 180),
    ArrearsBucket.OVER_180: (181, None),
}
_RANK: dict[ArrearsBucket, int] = {bucket: index for index, bucket in enumerate(ArrearsBucket)}
BUCKETS: tuple[ArrearsBucket, ...] = tuple(ArrearsBucket)


def bucket_for(days_past_due: int) -> ArrearsBucket:
    """The bucket of a DPD figure (negative DPD does not exist; it is current)."""
    if days_past_due <= 0:
        return ArrearsBucket.CURRENT
    if days_past_due <= 30:
        return ArrearsBucket.DPD_1_30
    if days_past_due <= 60:
        return ArrearsBucket.DPD_31_60
    if days_past_due <= 90:
        return ArrearsBucket.DPD_61_90
    if days_past_due <= 180:
        return ArrearsBucket.DPD_91_180
    return ArrearsBucket.OVER_180


@dataclass(frozen=True, slots=True)
class LoanSnapshot:
    """One loan as of the end of one business date. Amounts are minor units of ``currency``.

    ``status`` is the loan's status as of that date (``ACTIVE``, ``CLOSED`` or
    ``WRITTEN_OFF``), derived from its replay, so a row written for a past
    date while catching up is true for that date. Only ``ACTIVE`` rows count
    in the portfolio figures; a written-off loan's balances are all zero here
    (the ledger moves them to the written-off amount).
    """

    business_date: date
    loan_id: str
    borrower_id: str
    agent_id: str
    branch_id: str
    product_id: str
    currency: str
    status: str
    outstanding_principal: int
    # Interest receivable: unpaid interest of installments due on or before the date.
    # Interest of later installments is not earned yet and not in this figure.
    outstanding_interest: int
    outstanding_fees: int
    outstanding_penalties: int
    # Unpaid amount (principal, interest, fee, penalty) of installments past due,
    # i.e. due before the date. An installment due on the date is not in arrears yet.
    arrears_amount: int
    days_past_due: int
    bucket: ArrearsBucket
    installments_overdue: int

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


ACTIVE = "ACTIVE"

__all__ = ["ACTIVE", "BUCKETS", "ArrearsBucket", "LoanSnapshot", "bucket_for"]
