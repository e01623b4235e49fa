"""A date's totals give exactly the PAR, aging and trend computed over its rows.

``par_report``, ``aging_report`` and ``trend`` (domain/portfolio) are the
reference; the totals are what reporting_service stores per closed date.
Generated portfolios, every filter, and rows revised after the totals were
added up (the change applied to the held totals).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting_service.domain.portfolio import aging_report, par_report, trend
from reporting_service.domain.totals import (
    FIELDS,
    Sums,
    TotalsKey,
    aging_from,
    by_currency,
    change,
    day_totals,
    key_of,
    par_from,
    trend_from,
)
from shared.portfolio import LoanSnapshot, bucket_for

DAY = date(2026, 6, 30)


@st.composite
def rows(draw: st.DrawFn, day: date = DAY) -> list[LoanSnapshot]:
    out = []
    for n in range(draw(st.integers(0, 40))):
        dpd = draw(st.sampled_from([0, 1, 2, 30, 31, 60, 61, 90, 91, 180, 181, 400]))
        out.append(LoanSnapshot(
            day, f"L{n}", f"B{draw(st.integers(0, 9))}", draw(st.sampled_from(["a1", "a2"])),
            draw(st.sampled_from(["b1", "b2"])), draw(st.sampled_from(["p1", "p2"])),
            draw(st.sampled_from(["USD", "KES"])),
            draw(st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "CLOSED", "WRITTEN_OFF"])),
            draw(st.integers(0, 10**9)), draw(st.integers(0, 10**6)), 0, 0,
            draw(st.integers(0, 10**8)), dpd, bucket_for(dpd), 0,
        ))
    return out


FILTERS = [{}, {"agent_id": "a1"}, {"branch_id": "b2"}, {"product_id": "p1"},
           {"currency": "KES"}, {"agent_id": "a2", "branch_id": "b1", "product_id": "p2"}]


def _in(scope: dict[str, str], key: TotalsKey | LoanSnapshot) -> bool:
    return all(getattr(key, k) == v for k, v in scope.items())


def _sums(totals: dict[TotalsKey, Sums], scope: dict[str, str]) -> dict[str, Sums]:
    return by_currency((k.currency, s) for k, s in totals.items() if _in(scope, k))


def _unlisted(rows: Iterable[LoanSnapshot], day: date = DAY) -> object:
    report = par_report(rows, day)
    return dataclasses.replace(report, figures=tuple(
        dataclasses.replace(f, loans=()) for f in report.figures))


@settings(max_examples=150, deadline=None)
@given(rows())
def test_par_and_aging_from_the_totals_equal_the_computed_ones(book: list[LoanSnapshot]) -> None:
    totals = day_totals(book)
    for scope in FILTERS:
        mine = [r for r in book if _in(scope, r)]
        sums = _sums(totals, scope)
        assert par_from(sums, DAY) == _unlisted(mine)
        assert aging_from(sums, DAY) == aging_report(mine, DAY)


@settings(max_examples=100, deadline=None)
@given(rows(), st.data())
def test_a_revised_row_changes_the_totals_as_a_recount_would(
    book: list[LoanSnapshot], data: st.DataObject
) -> None:
    totals = day_totals(book)
    revised = list(book)
    for i in data.draw(st.lists(st.integers(0, max(len(book) - 1, 0)), max_size=5)):
        if not book:
            break
        old = revised[i]
        dpd = data.draw(st.sampled_from([0, 5, 35, 95]))
        new = dataclasses.replace(
            old, days_past_due=dpd, bucket=bucket_for(dpd),
            status=data.draw(st.sampled_from(["ACTIVE", "CLOSED"])),
            outstanding_principal=data.draw(st.integers(0, 10**6)))
        held = totals.setdefault(key_of(new), dict.fromkeys(FIELDS, 0))
        for name, value in change(old, new).items():
            held[name] += value
        revised[i] = new
    for scope in FILTERS:
        assert _sums(totals, scope) == _sums(day_totals(revised), scope)
        assert par_from(_sums(totals, scope), DAY) == _unlisted(
            [r for r in revised if _in(scope, r)])


@settings(max_examples=50, deadline=None)
@given(rows(DAY - timedelta(days=1)), rows(DAY), st.booleans())
def test_trend_from_the_totals_equals_the_computed_one(
    first: list[LoanSnapshot], second: list[LoanSnapshot], empty_day: bool
) -> None:
    days = {DAY - timedelta(days=1): first, DAY: second}
    if empty_day:
        days[DAY + timedelta(days=1)] = []
    sums = {d: _sums(day_totals(r), {}) for d, r in days.items()}
    start, end = DAY - timedelta(days=5), DAY + timedelta(days=1)
    assert trend_from(sums, start, end) == trend(days, start, end)
