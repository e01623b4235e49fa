"""The money of each day added up per labels, so portfolio and agents read a few documents.

The portfolio summary needs, as of a date, what was disbursed, collected, written off
and recovered **to date**, and how many loans wait in the approval pipeline; the agents
report needs, over a period, what was disbursed, what was due and what was collected
against it. Each fact puts amounts on **days** (``Flows``: day and labels -> sums):

* a disbursement: ``disbursed_loans`` and ``disbursed`` on its date; its write-off's
  ``written_off`` on the write-off date;
* a repayment not reversed: ``collected`` and ``recovered`` on its value date;
* a loan on its way to disbursement: ``pending`` +1 on the day it was submitted and -1 on
  the day it left (approved, rejected, withdrawn or disbursed), ``approved`` the same
  from its approval to its leaving (so the sum up to a date is what waited at its end);
* an installment still to collect: ``sched`` (its principal + interest + fee) and
  ``dues`` (1) on its due date;
* a part of a repayment paid to an installment: ``paid.<value date>`` on the
  installment's due date (``paidx.<value date>`` when a write-off took the
  installment: it counts as collected in a period, never as paid before it, as the
  installment is no longer due), and ``parts`` (1) on the value date.

A changed fact changes the days by its new flows less its old ones (``diff``), so the
sums do not depend on the order the facts came in. A closed date keeps the sums of
``CUMULATIVE`` up to it (``cum_<name>`` on its ``day_totals``); a period's figures are the
sums of its days. ``portfolio_from`` and ``agents_from`` build the reports from them; they
equal ``portfolio_summary`` and ``agent_performance`` over the rows and facts (a test
compares them), with one difference: collection efficiency's due clamps each installment
at zero (``max(0, scheduled - paid before)``), the sums do not, which differs only for an
installment paid more than its amount before the period (see docs/reports.md: Limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from reporting_service.domain.facts import (
    ApplicationFact,
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from reporting_service.domain.figures import money, percent, rate
from reporting_service.domain.flows import AgentPerformance
from reporting_service.domain.portfolio import (
    Dimension,
    PortfolioFigures,
    PortfolioGroup,
    PortfolioSummary,
)
from reporting_service.domain.totals import FIELDS, Sums

# Kept to date on each closed date's totals, as "cum_<name>".
CUMULATIVE: tuple[str, ...] = (
    "disbursed_loans", "disbursed", "written_off", "collected", "recovered", "pending",
    "approved",
)
CUM_FIELDS: tuple[str, ...] = tuple(f"cum_{n}" for n in CUMULATIVE)
# Every scalar of a day's flows; "paid.<value date>" entries come on top.
DAY_FIELDS: tuple[str, ...] = (*CUMULATIVE, "sched", "dues", "parts")
PAID = "paid."
# Paid to an installment a write-off took.
PAID_CANCELLED = "paidx."


@dataclass(frozen=True, slots=True, order=True)
class FlowKey:
    day: date
    currency: str
    agent_id: str
    branch_id: str
    product_id: str


Flows = dict[FlowKey, Sums]


def _put(out: Flows, key: FlowKey, name: str, amount: int) -> None:
    if amount:
        sums = out.setdefault(key, {})
        sums[name] = sums.get(name, 0) + amount


def disbursement_flows(fact: DisbursementFact) -> Flows:
    out: Flows = {}
    labels = (fact.currency, fact.agent_id, fact.branch_id, fact.product_id)
    on = FlowKey(fact.disbursement_date, *labels)
    _put(out, on, "disbursed_loans", 1)
    _put(out, on, "disbursed", fact.principal)
    if fact.written_off_on is not None:
        # As of a date, a write-off counts once both it and the disbursement are past.
        cut = max(fact.written_off_on, fact.disbursement_date)
        _put(out, FlowKey(cut, *labels), "written_off", fact.written_off_amount)
    return out


def collection_flows(fact: CollectionFact) -> Flows:
    out: Flows = {}
    if not fact.reversed:
        key = FlowKey(fact.value_date, fact.currency, fact.agent_id, fact.branch_id,
                      fact.product_id)
        _put(out, key, "collected", fact.amount)
        _put(out, key, "recovered", fact.recovery)
    return out


def application_flows(fact: ApplicationFact) -> Flows:
    """+1 from the day a loan entered a state, -1 from the day it left it (if it did)."""
    out: Flows = {}
    labels = (fact.currency, fact.agent_id, fact.branch_id, fact.product_id)

    def span(name: str, begin: date | None, ends: Iterable[date | None]) -> None:
        if begin is None:
            return
        _put(out, FlowKey(begin, *labels), name, 1)
        found = [e for e in ends if e is not None]
        if found:
            _put(out, FlowKey(max(begin, min(found)), *labels), name, -1)

    span("pending", fact.submitted_on, (fact.approved_on, fact.left_on))
    span("approved", fact.approved_on, (fact.left_on,))
    return out


def due_flows(due: InstallmentDue, branch_id: str, product_id: str, cancelled: bool) -> Flows:
    out: Flows = {}
    if not cancelled:
        key = FlowKey(due.due_date, due.currency, due.agent_id, branch_id, product_id)
        _put(out, key, "sched", due.amount)
        _put(out, key, "dues", 1)
    return out


def payment_flows(
    part: InstallmentPayment, branch_id: str, product_id: str, reversed_: bool,
    cancelled: bool = False,
) -> Flows:
    """``cancelled``: a write-off took the installment paid to."""
    out: Flows = {}
    if not reversed_:
        labels = (part.currency, part.agent_id, branch_id, product_id)
        _put(out, FlowKey(part.due_date, *labels),
             (PAID_CANCELLED if cancelled else PAID) + part.value_date.isoformat(),
             part.amount)
        _put(out, FlowKey(part.value_date, *labels), "parts", 1)
    return out


def diff(old: Flows, new: Flows) -> Flows:
    """What replacing ``old`` flows by ``new`` ones adds (zeros left out)."""
    out: Flows = {k: dict(v) for k, v in new.items()}
    for key, sums in old.items():
        for name, value in sums.items():
            into = out.setdefault(key, {})
            into[name] = into.get(name, 0) - value
    cleaned = {k: {n: v for n, v in s.items() if v} for k, s in out.items()}
    return {k: s for k, s in cleaned.items() if s}


def add(into: Flows, more: Flows) -> None:
    for key, sums in more.items():
        for name, value in sums.items():
            _put(into, key, name, value)


# ------------------------------------------------------------------ portfolio summary

Labels = tuple[str, str, str, str]  # currency, agent, branch, product
_GROUPS = (Dimension.AGENT, Dimension.BRANCH, Dimension.PRODUCT)
# (dimension or None for the total, key, currency) -> distinct borrowers
BorrowerCounts = Mapping[tuple[Dimension | None, str, str], int]
Balances = dict[tuple[str, str, str], tuple[int, int, int, int]]


def _figures(currency: str, s: Mapping[str, int], borrowers: int) -> PortfolioFigures:
    return PortfolioFigures(
        currency=currency, active_loans=s["loans"], borrowers=borrowers,
        outstanding_principal=money(s["principal"], currency),
        interest_receivable=money(s["interest"], currency),
        disbursed=money(s["cum_disbursed"], currency),
        collected=money(s["cum_collected"], currency),
        written_off=money(s["cum_written_off"], currency),
        recovered=money(s["cum_recovered"], currency),
        pending_approval=s["cum_pending"], approved_not_disbursed=s["cum_approved"],
    )


def arrears_of(s: Mapping[str, int]) -> int:
    return sum(s[n] for n in FIELDS if n.endswith("_arrears"))


def portfolio_from(
    totals: Iterable[tuple[Labels, Mapping[str, int]]], borrowers: BorrowerCounts, as_of: date,
) -> tuple[PortfolioSummary, Balances]:
    """``portfolio_summary`` and the balances (fees, penalties, arrears, loans in arrears)
    from a closed date's totals in scope (each with its labels)."""
    width = (*FIELDS, *CUM_FIELDS)
    groups: dict[tuple[Dimension | None, str, str], Sums] = {}
    for (currency, agent, branch, product), sums in totals:
        for dim, key in ((None, ""), (Dimension.AGENT, agent), (Dimension.BRANCH, branch),
                         (Dimension.PRODUCT, product)):
            into = groups.setdefault((dim, key, currency), dict.fromkeys(width, 0))
            for name in width:
                into[name] += int(sums.get(name, 0))
    kept = {k: s for k, s in groups.items() if any(s.values())}

    def figures(k: tuple[Dimension | None, str, str]) -> PortfolioFigures:
        return _figures(k[2], kept[k], borrowers.get(k, 0))

    summary = PortfolioSummary(
        as_of=as_of,
        totals=tuple(figures(k) for k in sorted((k for k in kept if k[0] is None),
                                                key=lambda k: k[2])),
        groups=tuple(
            PortfolioGroup(dim, k[1], figures(k))
            for dim in _GROUPS
            for k in sorted((k for k in kept if k[0] is dim), key=lambda k: (k[1], k[2]))
        ),
    )
    balances: Balances = {
        (k[0].value if k[0] else "total", k[1], k[2]): (
            s["fees"], s["penalties"], arrears_of(s), s["loans"] - s["current_loans"])
        for k, s in kept.items() if s["loans"]
    }
    return summary, balances


# ------------------------------------------------------------------ agent performance


@dataclass(frozen=True, slots=True)
class AgentsFigures:
    rows: tuple[AgentPerformance, ...]
    # (agent, currency) -> loans disbursed, amount disbursed, due, collected against due
    flows: dict[tuple[str, str], tuple[int, int, int, int]]
    # (agent, currency) -> branch, loans in arrears
    book: dict[tuple[str, str], tuple[str, int]]


def agents_from(
    totals: Iterable[tuple[Labels, Mapping[str, int]]],
    borrowers: Mapping[tuple[str, str], int],
    days: Iterable[tuple[FlowKey, Mapping[str, int]]],
    start: date,
    end: date,
) -> AgentsFigures:
    """``agent_performance`` (and the flows and book the agents report shows) from the
    as-of date's totals, the distinct borrowers per (agent, currency) and the days of
    ``start``..``end``. An agent's branch is the one holding most of its active loans."""
    book: dict[tuple[str, str], list[int]] = {}
    branches: dict[tuple[str, str], dict[str, int]] = {}
    for (currency, agent, branch, _), s in totals:
        if not s.get("loans"):
            continue
        f = book.setdefault((agent, currency), [0, 0, 0, 0])
        f[0] += int(s["loans"])
        f[1] += int(s["principal"])
        f[2] += int(s["par30_principal"])
        f[3] += int(s["loans"]) - int(s["current_loans"])
        held = branches.setdefault((agent, currency), {})
        held[branch] = held.get(branch, 0) + int(s["loans"])
    # (agent, currency) -> disbursed loans, disbursed, scheduled, paid before, paid in it
    flows: dict[tuple[str, str], list[int]] = {}
    efficient: set[tuple[str, str]] = set()
    first = start.isoformat()
    last = end.isoformat()
    for key, s in days:
        if not start <= key.day <= end:
            continue
        group = (key.agent_id, key.currency)
        f = flows.setdefault(group, [0, 0, 0, 0, 0])
        f[0] += int(s.get("disbursed_loans", 0))
        f[1] += int(s.get("disbursed", 0))
        f[2] += int(s.get("sched", 0))
        for name, value in s.items():
            if name.startswith(PAID):
                paid_on = name[len(PAID):]
                if paid_on < first:
                    f[3] += int(value)
                elif paid_on <= last:
                    f[4] += int(value)
            elif name.startswith(PAID_CANCELLED) and first <= name[len(PAID_CANCELLED):] <= last:
                f[4] += int(value)
        if (s.get("dues") or s.get("parts")) and key.agent_id:
            efficient.add(group)
    out_flows: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for group, f in flows.items():
        due = f[2] - f[3] if group in efficient else 0
        out_flows[group] = (f[0], f[1], due, f[4] if group in efficient else 0)
    rows = []
    for group in sorted(set(book) | efficient):
        loans, principal, at_risk, _ = book.get(group, [0, 0, 0, 0])
        agent, currency = group
        _, _, due, collected = out_flows.get(group, (0, 0, 0, 0))
        rows.append(AgentPerformance(
            agent, currency, borrowers.get(group, 0), loans, money(principal, currency),
            money(at_risk, currency), percent(at_risk, principal),
            rate(collected, due) if group in efficient else None,
        ))
    return AgentsFigures(
        tuple(rows), out_flows,
        {g: (min(branches[g].items(), key=lambda kv: (-kv[1], kv[0]))[0], f[3])
         for g, f in book.items()},
    )


__all__ = [
    "CUMULATIVE",
    "CUM_FIELDS",
    "DAY_FIELDS",
    "PAID",
    "PAID_CANCELLED",
    "AgentsFigures",
    "FlowKey",
    "Flows",
    "add",
    "agents_from",
    "application_flows",
    "arrears_of",
    "collection_flows",
    "diff",
    "disbursement_flows",
    "due_flows",
    "payment_flows",
    "portfolio_from",
]
