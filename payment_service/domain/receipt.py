"""What a receipt says, independent of how it is printed (HTML or PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from payment_service.domain.payment import Payment, PaymentStatus
from shared.errors import FailedPrecondition
from shared.money import Money

CHANNEL_LABELS = {
    "CASH": "Cash",
    "MOBILE_MONEY": "Mobile money",
    "BANK_TRANSFER": "Bank transfer",
}


def format_money(money: Money) -> str:
    """``KES 1,234.50``: exact, grouped, with the currency's own decimals."""
    exponent = money.exponent
    value = Decimal(money.amount_minor).scaleb(-exponent)
    return f"{money.currency} {value:,.{exponent}f}"


def format_instant(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class Institution:
    name: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptView:
    institution: Institution
    receipt_number: str
    title: str
    # (label, value) lines in print order.
    details: tuple[tuple[str, str], ...]
    amount: str
    # (label, amount) of the allocation split, non-zero parts only, then the total.
    allocation: tuple[tuple[str, str], ...]
    # Set when the payment was reversed: the notice printed across the receipt.
    reversal_notice: str = ""
    footer: str = ""


def receipt_view(payment: Payment, institution: Institution, poster_name: str) -> ReceiptView:
    if not payment.has_receipt:
        raise FailedPrecondition(
            f"payment {payment.id} is {payment.status.value}; it has no receipt yet"
        )
    currency = payment.amount.currency
    details: list[tuple[str, str]] = [
        ("Receipt number", payment.receipt_number),
        ("Date", payment.value_date.isoformat()),
        ("Borrower", payment.loan.borrower_name or payment.loan.borrower_id),
        ("Loan number", payment.loan.loan_number or payment.loan_id),
        ("Channel", CHANNEL_LABELS.get(payment.channel.value, payment.channel.value)),
    ]
    if payment.external_reference:
        details.append(("Reference", payment.external_reference))
    details.append(("Received by", poster_name or payment.posted_by))
    details.append(("Posted at", format_instant(payment.posted_at)))
    if payment.note:
        details.append(("Note", payment.note))
    split: list[tuple[str, str]] = []
    alloc = payment.allocation
    if alloc is not None:
        for label, minor in (
            ("Penalties", alloc.penalty),
            ("Fees", alloc.fee),
            ("Interest", alloc.interest),
            ("Principal", alloc.principal),
            ("Recovery (written-off loan)", alloc.recovery),
        ):
            if minor:
                split.append((label, format_money(Money(minor, currency))))
        split.append(("Total", format_money(Money(alloc.total, currency))))
        if alloc.interest_waived:
            split.append(
                ("Future interest waived", format_money(Money(alloc.interest_waived, currency)))
            )
    notice = ""
    if payment.status is PaymentStatus.REVERSED and payment.reversal is not None:
        notice = (
            f"REVERSED on {format_instant(payment.reversal.reversed_at)}: "
            f"{payment.reversal.reason}"
        )
    footer = "This loan is now fully repaid. " if payment.loan_closed else ""
    footer += "Thank you. Keep this receipt as proof of payment."
    return ReceiptView(
        institution=institution,
        receipt_number=payment.receipt_number,
        title="Loan repayment receipt",
        details=tuple(details),
        amount=format_money(payment.amount),
        allocation=tuple(split),
        reversal_notice=notice,
        footer=footer,
    )
