"""A closed date's figures added up once, so a report reads a few documents, not every row.

The active snapshot rows of a date sharing currency, agent, branch and
product add up to one set of totals: loans and outstanding principal, per
arrears bucket the loans, principal and arrears, per PAR threshold the loans
and principal at risk. Every total is a plain sum, so the totals of any
filter (agent, branch, product, currency, or none) are the sum of the
matching sets, and a revised row changes them by its new contribution less
its old one. PAR, aging and trend built from them equal ``par_report``,
``aging_report`` and ``trend`` over the rows (a test compares them), except
that a PAR figure built here does not list the loans behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from reporting_service.domain.figures import check_range, money, percent
from reporting_service.domain.portfolio import (
    PAR_THRESHOLDS,
    AgingReport,
    AgingRow,
    AgingTotal,
    ParFigure,
    ParReport,
    TrendPoint,
)
from shared.portfolio import BUCKETS, LoanSnapshot, bucket_for

# The names of the sums, as stored.
FIELDS: tuple[str, ...] = (
    "loans", "principal", "interest", "fees", "penalties",
    *(f"{b.name.lower()}_{part}" for b in BUCKETS for part in ("loans", "principal", "arrears")),
    *(f"par{n}_{part}" for n in PAR_THRESHOLDS for part in ("loans", "principal")),
)


@dataclass(frozen=True, slots=True)
class TotalsKey:
    business_date: date
    currency: str
    agent_id: str
    branch_id: str
    product_id: str


Sums = dict[str, int]


def key_of(row: LoanSnapshot) -> TotalsKey:
    return TotalsKey(row.business_date, row.currency, row.agent_id, row.branch_id,
                     row.product_id)


def contribution(row: LoanSnapshot) -> Sums:
    """What one row adds to its totals (nothing unless it is active)."""
    if not row.active:
        return {}
    b = bucket_for(row.days_past_due).name.lower()
    out = {"loans": 1, "principal": row.outstanding_principal,
           "interest": row.outstanding_interest, "fees": row.outstanding_fees,
           "penalties": row.outstanding_penalties, f"{b}_loans": 1,
           f"{b}_principal": row.outstanding_principal, f"{b}_arrears": row.arrears_amount}
    for n in PAR_THRESHOLDS:
        if row.days_past_due > n:
            out[f"par{n}_loans"] = 1
            out[f"par{n}_principal"] = row.outstanding_principal
    return out


def change(old: LoanSnapshot | None, new: LoanSnapshot | None) -> Sums:
    """What replacing ``old`` by ``new`` adds to their key's totals (same key; None: no row)."""
    out = contribution(new) if new is not None else {}
    for name, value in (contribution(old) if old is not None else {}).items():
        out[name] = out.get(name, 0) - value
    return {k: v for k, v in out.items() if v}


# ------------------------------------------------------------------ distinct borrowers
# Distinct borrowers do not add up across groups (a borrower with loans under two products
# is one borrower of the branch), so they are counted apart for every combination of the
# labels a report can filter or group by: a mask names the labels kept ("a"gent, "b"ranch,
# "p"roduct), the others are "". A report filtered by some labels and grouped by one reads
# the counts of the mask made of them.
MASKS: tuple[str, ...] = ("", "a", "b", "p", "ab", "ap", "bp", "abp")


@dataclass(frozen=True, slots=True, order=True)
class BorrowerKey:
    business_date: date
    mask: str
    currency: str
    agent_id: str
    branch_id: str
    product_id: str


def mask_of(labels: Iterable[str]) -> str:
    """The mask of label names (agent_id, branch_id, product_id)."""
    wanted = {name[0] for name in labels}
    return "".join(c for c in "abp" if c in wanted)


def borrower_keys(row: LoanSnapshot) -> set[BorrowerKey]:
    """The counts one active row puts its borrower in (none for a row not active)."""
    if not row.active:
        return set()
    return {
        BorrowerKey(row.business_date, m, row.currency, row.agent_id if "a" in m else "",
                    row.branch_id if "b" in m else "", row.product_id if "p" in m else "")
        for m in MASKS
    }


def borrower_counts(rows: Iterable[LoanSnapshot]) -> dict[BorrowerKey, int]:
    """Distinct borrowers per mask and labels; ``rows`` of one date."""
    seen: dict[str, set[BorrowerKey]] = {}
    for row in rows:
        keys = borrower_keys(row)
        if keys:
            seen.setdefault(row.borrower_id, set()).update(keys)
    out: dict[BorrowerKey, int] = {}
    for keys in seen.values():
        for key in keys:
            out[key] = out.get(key, 0) + 1
    return out


def borrower_change(
    others: Iterable[LoanSnapshot], old: LoanSnapshot | None, new: LoanSnapshot | None
) -> dict[BorrowerKey, int]:
    """What replacing ``old`` by ``new`` (one loan's row) does to the borrower counts;
    ``others`` are the borrower's other rows of that date."""
    rest: set[BorrowerKey] = set()
    for row in others:
        rest |= borrower_keys(row)
    before = rest | (borrower_keys(old) if old is not None else set())
    after = rest | (borrower_keys(new) if new is not None else set())
    return {**dict.fromkeys(after - before, 1), **dict.fromkeys(before - after, -1)}


def day_totals(rows: Iterable[LoanSnapshot]) -> dict[TotalsKey, Sums]:
    out: dict[TotalsKey, Sums] = {}
    for row in rows:
        part = contribution(row)
        if part:
            sums = out.setdefault(key_of(row), dict.fromkeys(FIELDS, 0))
            for name, value in part.items():
                sums[name] += value
    return out


def by_currency(totals: Iterable[tuple[str, Mapping[str, int]]]) -> dict[str, Sums]:
    """(currency, sums) added up per currency; a currency with no active loan is left out."""
    out: dict[str, Sums] = {}
    for currency, sums in totals:
        into = out.setdefault(currency, dict.fromkeys(FIELDS, 0))
        for name in FIELDS:
            into[name] += int(sums.get(name, 0))
    return {c: s for c, s in sorted(out.items()) if s["loans"] > 0}


def par_from(
    sums: Mapping[str, Sums], as_of: date, thresholds: Iterable[int] = PAR_THRESHOLDS
) -> ParReport:
    """``par_report`` from per-currency totals (the loans behind each figure not listed)."""
    wanted = tuple(thresholds)
    return ParReport(as_of=as_of, figures=tuple(
        ParFigure(
            threshold_days=n, currency=currency,
            at_risk_principal=money(s[f"par{n}_principal"], currency),
            outstanding_principal=money(s["principal"], currency),
            percent=percent(s[f"par{n}_principal"], s["principal"]),
            loan_count=s[f"par{n}_loans"],
        )
        for currency, s in sums.items()
        for n in wanted
    ))


def aging_from(sums: Mapping[str, Sums], as_of: date) -> AgingReport:
    """``aging_report`` from per-currency totals."""
    rows: list[AgingRow] = []
    totals: list[AgingTotal] = []
    for currency, s in sums.items():
        names = [b.name.lower() for b in BUCKETS]
        rows.extend(
            AgingRow(currency=currency, bucket=b, loan_count=s[f"{name}_loans"],
                     outstanding_principal=money(s[f"{name}_principal"], currency),
                     arrears_amount=money(s[f"{name}_arrears"], currency),
                     percent=percent(s[f"{name}_principal"], s["principal"]))
            for b, name in zip(BUCKETS, names, strict=True)
        )
        arrears = sum(s[f"{name}_arrears"] for name in names)
        totals.append(AgingTotal(currency, s["loans"], money(s["principal"], currency),
                                 money(arrears, currency)))
    return AgingReport(as_of=as_of, rows=tuple(rows), totals=tuple(totals))


def trend_from(
    sums_by_date: Mapping[date, Mapping[str, Sums]], start: date, end: date
) -> tuple[TrendPoint, ...]:
    """``trend`` from per-date, per-currency totals (every closed date of the range a key)."""
    check_range(start, end)
    days = sorted(d for d in sums_by_date if start <= d <= end)
    currencies = sorted({c for d in days for c in sums_by_date[d]})
    empty = dict.fromkeys(FIELDS, 0)
    points: list[TrendPoint] = []
    for currency in currencies:
        for day in days:
            s = sums_by_date[day].get(currency, empty)
            points.append(TrendPoint(day, currency, s["loans"], money(s["principal"], currency),
                                     percent(s["par30_principal"], s["principal"])))
    return tuple(points)


__all__ = [
    "FIELDS",
    "MASKS",
    "BorrowerKey",
    "Sums",
    "TotalsKey",
    "aging_from",
    "borrower_change",
    "borrower_counts",
    "borrower_keys",
    "by_currency",
    "change",
    "contribution",
    "day_totals",
    "key_of",
    "mask_of",
    "par_from",
    "trend_from",
]
