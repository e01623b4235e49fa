"""Collection sheets and end-of-day cash summaries: pure arithmetic over given figures.

Collection sheet for an agent and a date
----------------------------------------
The loan service reports, per loan, what is still unpaid of the installments
due on the date (``amount_due``) and before it (``arrears``), after every
repayment with a value date up to and including that date. The payments
collected that day (POSTED, value date = the date, on the agent's loans) come
from this service. So during the day a row's due amount falls as money is
collected, and:

* a row's ``expected`` is what was still to collect plus what was collected
  that day: ``total_due + collected``. A loan paid in full that day has
  nothing due any more but stays on the sheet with its collection.
* ``collection_rate`` = collected / expected x 100, rounded HALF_EVEN to two
  places, per currency ("0.00" when nothing was expected). A prepayment
  collected that day counts as expected too, so the rate never passes 100.

Cash summary for an agent and a date
------------------------------------
Over the payments the agent posted with that value date: per (channel,
currency) the amount and count that were posted (POSTED or later REVERSED),
the part reversed since, and the net; net totals per currency; and how many
were REJECTED or are still PENDING.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from payment_service.domain.payment import Channel, PaymentStatus
from shared.money import Money

_CENT = Decimal("0.01")


def collection_rate(collected: int, expected: int) -> str:
    """Percent with two decimals, exact Decimal arithmetic: 7 of 8 -> "87.50"."""
    if expected <= 0:
        return "0.00"
    rate = (Decimal(collected) * 100 / Decimal(expected)).quantize(_CENT, ROUND_HALF_EVEN)
    return f"{rate:f}"


@dataclass(frozen=True, slots=True)
class DueLoan:
    """One loan from LoanService.GetLoansDue (amounts still unpaid on the date)."""

    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    oldest_due_date: date | None
    amount_due: Money
    arrears_amount: Money
    days_past_due: int

    @property
    def total_due(self) -> Money:
        return self.amount_due + self.arrears_amount


@dataclass(frozen=True, slots=True)
class Collected:
    """POSTED payments on one loan with the sheet's value date."""

    loan_id: str
    loan_number: str
    borrower_id: str
    borrower_name: str
    amount: Money
    count: int = 1


@dataclass(frozen=True, slots=True)
class SheetRow:
    borrower_id: str
    borrower_name: str
    phone: str
    loan_id: str
    loan_number: str
    oldest_due_date: date | None
    amount_due: Money
    arrears_amount: Money
    days_past_due: int
    collected: Money

    @property
    def total_due(self) -> Money:
        return self.amount_due + self.arrears_amount

    @property
    def expected(self) -> Money:
        return self.total_due + self.collected

    @property
    def currency(self) -> str:
        return self.amount_due.currency


@dataclass(frozen=True, slots=True)
class SheetTotals:
    currency: str
    expected: Money
    collected: Money
    collection_rate: str
    loan_count: int


@dataclass(frozen=True, slots=True)
class CollectionSheet:
    agent_id: str
    date: date
    rows: tuple[SheetRow, ...]
    totals: tuple[SheetTotals, ...]


def build_sheet(
    agent_id: str,
    on: date,
    due: Iterable[DueLoan],
    collected: Iterable[Collected],
    phones: Mapping[str, str],
) -> CollectionSheet:
    """Rows sorted most overdue first, then by borrower name and loan number."""
    by_loan: dict[str, Collected] = {}
    for item in collected:
        seen = by_loan.get(item.loan_id)
        by_loan[item.loan_id] = (
            item
            if seen is None
            else Collected(
                item.loan_id,
                item.loan_number,
                item.borrower_id,
                item.borrower_name,
                seen.amount + item.amount,
                seen.count + item.count,
            )
        )
    rows: list[SheetRow] = []
    listed: set[str] = set()
    for loan in due:
        if loan.loan_id in listed:
            continue
        listed.add(loan.loan_id)
        got = by_loan.get(loan.loan_id)
        rows.append(
            SheetRow(
                borrower_id=loan.borrower_id,
                borrower_name=loan.borrower_name,
                phone=phones.get(loan.borrower_id, ""),
                loan_id=loan.loan_id,
                loan_number=loan.loan_number,
                oldest_due_date=loan.oldest_due_date,
                amount_due=loan.amount_due,
                arrears_amount=loan.arrears_amount,
                days_past_due=loan.days_past_due,
                collected=got.amount if got else Money.zero(loan.amount_due.currency),
            )
        )
    # Loans whose dues were cleared by that day's collections stay on the sheet.
    for loan_id, got in by_loan.items():
        if loan_id in listed:
            continue
        zero = Money.zero(got.amount.currency)
        rows.append(
            SheetRow(
                borrower_id=got.borrower_id,
                borrower_name=got.borrower_name,
                phone=phones.get(got.borrower_id, ""),
                loan_id=loan_id,
                loan_number=got.loan_number,
                oldest_due_date=None,
                amount_due=zero,
                arrears_amount=zero,
                days_past_due=0,
                collected=got.amount,
            )
        )
    rows.sort(key=lambda r: (-r.days_past_due, r.borrower_name.casefold(), r.loan_number))
    return CollectionSheet(agent_id, on, tuple(rows), sheet_totals(rows))


def sheet_totals(rows: Sequence[SheetRow]) -> tuple[SheetTotals, ...]:
    expected: dict[str, int] = {}
    collected: dict[str, int] = {}
    count: dict[str, int] = {}
    for row in rows:
        cur = row.currency
        expected[cur] = expected.get(cur, 0) + row.expected.amount_minor
        collected[cur] = collected.get(cur, 0) + row.collected.amount_minor
        count[cur] = count.get(cur, 0) + 1
    return tuple(
        SheetTotals(
            currency=cur,
            expected=Money(expected[cur], cur),
            collected=Money(collected[cur], cur),
            collection_rate=collection_rate(collected[cur], expected[cur]),
            loan_count=count[cur],
        )
        for cur in sorted(expected)
    )


# ------------------------------------------------------------------ cash summary


@dataclass(frozen=True, slots=True)
class CashGroup:
    """Payments of one (channel, currency, status), as counted by the repository."""

    channel: Channel
    currency: str
    status: PaymentStatus
    count: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ChannelTotal:
    channel: Channel
    currency: str
    posted_amount: Money
    posted_count: int
    reversed_amount: Money
    reversed_count: int

    @property
    def net_amount(self) -> Money:
        return self.posted_amount - self.reversed_amount


@dataclass(frozen=True, slots=True)
class CashSummary:
    agent_id: str
    date: date
    channels: tuple[ChannelTotal, ...]
    net_totals: tuple[Money, ...]
    rejected_count: int
    pending_count: int


_CHANNEL_ORDER = {c: i for i, c in enumerate(Channel)}


def cash_summary(agent_id: str, on: date, groups: Iterable[CashGroup]) -> CashSummary:
    posted: dict[tuple[Channel, str], list[int]] = {}
    rejected = pending = 0
    for g in groups:
        if g.status is PaymentStatus.REJECTED:
            rejected += g.count
            continue
        if g.status is PaymentStatus.PENDING:
            pending += g.count
            continue
        # [posted count, posted amount, reversed count, reversed amount]
        slot = posted.setdefault((g.channel, g.currency), [0, 0, 0, 0])
        slot[0] += g.count
        slot[1] += g.amount_minor
        if g.status is PaymentStatus.REVERSED:
            slot[2] += g.count
            slot[3] += g.amount_minor
    channels = tuple(
        ChannelTotal(
            channel=channel,
            currency=currency,
            posted_amount=Money(v[1], currency),
            posted_count=v[0],
            reversed_amount=Money(v[3], currency),
            reversed_count=v[2],
        )
        for (channel, currency), v in sorted(
            posted.items(), key=lambda kv: (_CHANNEL_ORDER[kv[0][0]], kv[0][1])
        )
    )
    net: dict[str, int] = {}
    for total in channels:
        net[total.currency] = net.get(total.currency, 0) + total.net_amount.amount_minor
    return CashSummary(
        agent_id=agent_id,
        date=on,
        channels=channels,
        net_totals=tuple(Money(net[c], c) for c in sorted(net)),
        rejected_count=rejected,
        pending_count=pending,
    )
