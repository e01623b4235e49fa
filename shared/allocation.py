"""A repayment's allocation (where the money went), as both services hold it.

loan_service computes it (``ledger.Allocation``) and payment_service keeps a copy
(``payment.Allocation``); both publish its totals in their events under the same
names, and payment_service stores them so too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# What one installment's share is made of, and an allocation's totals, by name and in the
# order events and documents list them.
PARTS = ("penalty", "fee", "interest", "principal")
TOTALS = (*PARTS, "recovery", "interest_waived")


class _Shares(Protocol):
    """Where money went, in minor units: alike for a payment and one installment of it."""

    @property
    def penalty(self) -> int: ...
    @property
    def fee(self) -> int: ...
    @property
    def interest(self) -> int: ...
    @property
    def principal(self) -> int: ...


class InstallmentShare(_Shares, Protocol):
    @property
    def installment_number(self) -> int: ...


class AllocationParts(_Shares, Protocol):
    """A payment's allocation as loan_service computes it and payment_service keeps it."""

    @property
    def recovery(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def interest_waived(self) -> int: ...
    @property
    def installments(self) -> Sequence[InstallmentShare]: ...


def share_parts(share: InstallmentShare) -> dict[str, int]:
    """An installment's share, each part by its name (``PARTS``)."""
    return {name: getattr(share, name) for name in PARTS}


def allocation_totals(allocation: AllocationParts) -> dict[str, int]:
    """Each total of an allocation by its name (``TOTALS``), the installments aside."""
    return {name: getattr(allocation, name) for name in TOTALS}
