"""payment_service's pure rules: state machine, validation, fingerprints, receipt
numbers, collection-sheet arithmetic, cash summaries and receipt content."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.adapters.receipt_render import render_html, render_pdf
from payment_service.domain.collection import (
    CashGroup,
    Collected,
    DueLoan,
    build_sheet,
    cash_summary,
    collection_rate,
)
from payment_service.domain.payment import (
    Allocation,
    Applied,
    Channel,
    LoanFacts,
    Payment,
    PaymentStatus,
    PosterRole,
    RawPaymentRequest,
    Refused,
    Reversal,
    ReversalRequest,
    can_transition,
    check_reason,
    fingerprint,
    is_refusal,
    parse_receipt_number,
    receipt_number,
    refusal_error,
    retry_delay_seconds,
    validate_request,
)
from payment_service.domain.receipt import Institution, format_money, receipt_view
from shared.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from shared.money import Money

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def raw(**overrides: object) -> RawPaymentRequest:
    fields: dict[str, object] = {
        "idempotency_key": "key-1",
        "loan_id": "loan-1",
        "amount_minor": 5_000,
        "currency": "KES",
        "value_date": "",
        "channel": "CASH",
        "external_reference": "",
        "note": "",
    }
    fields.update(overrides)
    return RawPaymentRequest(**fields)  # type: ignore[arg-type]


def payment(**overrides: object) -> Payment:
    fields: dict[str, object] = {
        "id": "p1",
        "idempotency_key": "key-1",
        "fingerprint": "f",
        "loan_id": "loan-1",
        "amount": Money(5_000, "KES"),
        "value_date": TODAY,
        "channel": Channel.CASH,
        "status": PaymentStatus.PENDING,
        "posted_by": "agent-1",
        "poster_role": PosterRole.AGENT,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return Payment(**fields)  # type: ignore[arg-type]


APPLIED = Applied(
    allocation=Allocation(penalty=100, interest=900, principal=4_000),
    loan_transaction_id="t1",
    recovery=False,
    loan_closed=False,
    loan=LoanFacts("LN-2026-000001", "b1", "Amina Wanjiru", "agent-1", "BR-1"),
)


# ------------------------------------------------------------------ state machine


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (PaymentStatus.PENDING, PaymentStatus.POSTED, True),
        (PaymentStatus.PENDING, PaymentStatus.REJECTED, True),
        (PaymentStatus.PENDING, PaymentStatus.REVERSED, False),
        (PaymentStatus.POSTED, PaymentStatus.REVERSED, True),
        (PaymentStatus.POSTED, PaymentStatus.REJECTED, False),
        (PaymentStatus.POSTED, PaymentStatus.PENDING, False),
        (PaymentStatus.REJECTED, PaymentStatus.POSTED, False),
        (PaymentStatus.REVERSED, PaymentStatus.POSTED, False),
        (PaymentStatus.REVERSED, PaymentStatus.REVERSED, False),
    ],
)
def test_transitions(current: PaymentStatus, target: PaymentStatus, allowed: bool) -> None:
    assert can_transition(current, target) is allowed


def test_posting_records_the_loan_answer_and_receipt() -> None:
    posted = payment(lease_until=NOW).posted(APPLIED, "RC-2026-0000001", NOW, "agent-1")
    assert posted.status is PaymentStatus.POSTED
    assert posted.receipt_number == "RC-2026-0000001"
    assert posted.allocation == APPLIED.allocation
    assert posted.loan.loan_number == "LN-2026-000001"
    assert posted.lease_until is None
    assert posted.version == 2
    assert posted.has_receipt


def test_a_posted_payment_cannot_be_posted_or_rejected_again() -> None:
    posted = payment().posted(APPLIED, "RC-2026-0000001", NOW, "a")
    with pytest.raises(FailedPrecondition, match="payment is POSTED"):
        posted.posted(APPLIED, "RC-2026-0000002", NOW, "a")
    with pytest.raises(FailedPrecondition):
        posted.rejected(Refused("FAILED_PRECONDITION", "closed"), NOW, "a")


def test_rejection_keeps_the_reason() -> None:
    rejected = payment().rejected(Refused("FAILED_PRECONDITION", "loan is CLOSED"), NOW, "a")
    assert rejected.status is PaymentStatus.REJECTED
    assert (rejected.rejection_code, rejected.rejection_reason) == (
        "FAILED_PRECONDITION",
        "loan is CLOSED",
    )
    assert not rejected.has_receipt


def test_reversal_needs_posted_and_happens_once() -> None:
    with pytest.raises(FailedPrecondition, match="PENDING"):
        payment().reversal_requested(ReversalRequest("wrong loan", "admin", NOW), NOW)
    posted = payment().posted(APPLIED, "RC-2026-0000001", NOW, "a")
    requested = posted.reversal_requested(ReversalRequest("wrong loan", "admin", NOW), NOW)
    with pytest.raises(FailedPrecondition, match="already in progress"):
        requested.reversal_requested(ReversalRequest("again", "admin2", NOW), NOW)
    done = requested.reversed(Reversal("wrong loan", "admin", NOW, "t2", "r1"), NOW)
    assert done.status is PaymentStatus.REVERSED
    assert done.reversal_request is None
    assert done.has_receipt
    with pytest.raises(FailedPrecondition, match="already reversed"):
        done.reversal_requested(ReversalRequest("twice", "admin", NOW), NOW)


def test_agent_visibility() -> None:
    posted = payment(posted_by="admin-1").posted(APPLIED, "RC-2026-0000001", NOW, "a")
    assert posted.visible_to_agent("agent-1")  # their borrower's loan
    assert not posted.visible_to_agent("agent-2")
    assert payment(posted_by="agent-2").visible_to_agent("agent-2")  # they posted it


# ------------------------------------------------------------------ validation


def test_valid_request_defaults_the_value_date_to_today() -> None:
    req = validate_request(raw(note="  paid   at  market "), TODAY)
    assert req.value_date == TODAY
    assert req.amount == Money(5_000, "KES")
    assert req.channel is Channel.CASH
    assert req.note == "paid at market"


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_request(
            raw(
                idempotency_key="has space",
                loan_id="",
                amount_minor=0,
                currency="XXY",
                value_date="2026-03-11",
                channel="CHEQUE",
                external_reference="x" * 101,
                note="n" * 501,
            ),
            TODAY,
        )
    fields = {v.field for v in info.value.violations}
    assert fields == {
        "idempotency_key",
        "loan_id",
        "amount.amount_minor",
        "amount.currency",
        "value_date",
        "channel",
        "external_reference",
        "note",
    }


@pytest.mark.parametrize(
    "value_date", ["2026-3-1", "yesterday", "2026-02-30", "20260301", "2026-W09-7", "0"]
)
def test_malformed_value_dates(value_date: str) -> None:
    with pytest.raises(InvalidArgument, match="value_date"):
        validate_request(raw(value_date=value_date), TODAY)


def test_past_value_dates_are_fine() -> None:
    assert validate_request(raw(value_date="2026-03-09"), TODAY).value_date == date(2026, 3, 9)


def test_missing_key_is_named() -> None:
    with pytest.raises(InvalidArgument, match="idempotency_key: is required"):
        validate_request(raw(idempotency_key="  "), TODAY)


def test_fingerprint_ignores_spacing_and_case_but_not_content() -> None:
    base = fingerprint(raw())
    assert fingerprint(raw(currency="kes", channel=" cash ", note="")) == base
    assert fingerprint(raw(idempotency_key="another")) == base  # the key is not the body
    assert fingerprint(raw(amount_minor=5_001)) != base
    assert fingerprint(raw(value_date="2026-03-10")) != base  # "today" as sent stays ""
    assert fingerprint(raw(external_reference="MM1")) != base
    assert fingerprint(raw(loan_id="loan-2")) != base
    assert fingerprint(raw(note="x")) != base


@given(
    st.integers(1, 10**12),
    st.sampled_from(["KES", "USD", "UGX"]),
    st.sampled_from(list(Channel)),
    st.text(max_size=20),
)
def test_fingerprint_is_deterministic(
    amount: int, currency: str, channel: Channel, note: str
) -> None:
    one = raw(amount_minor=amount, currency=currency, channel=channel.value, note=note)
    two = raw(amount_minor=amount, currency=currency, channel=channel.value, note=note)
    assert fingerprint(one) == fingerprint(two)
    assert len(fingerprint(one)) == 64


def test_reason_is_required_and_bounded() -> None:
    assert check_reason("  wrong   borrower ") == "wrong borrower"
    with pytest.raises(InvalidArgument, match="reason"):
        check_reason("   ")
    with pytest.raises(InvalidArgument, match="reason"):
        check_reason("r" * 501)


# ------------------------------------------------------------------ refusals and receipts


def test_refusal_codes_and_their_errors() -> None:
    for code in ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "ALREADY_EXISTS"):
        assert is_refusal(code)
    for code in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "INTERNAL", "UNAUTHENTICATED"):
        assert not is_refusal(code)
    assert isinstance(refusal_error("NOT_FOUND", "loan x not found", "p"), NotFound)
    assert isinstance(refusal_error("INVALID_ARGUMENT", "currency", "p"), InvalidArgument)
    assert isinstance(refusal_error("ALREADY_EXISTS", "dup", "p"), AlreadyExists)
    err = refusal_error("FAILED_PRECONDITION", "exceeds the payoff amount of 10.00 USD", "p9")
    assert isinstance(err, FailedPrecondition)
    assert "payoff amount of 10.00 USD" in str(err)
    assert "p9 is REJECTED" in str(err)


def test_receipt_numbers() -> None:
    assert receipt_number(2026, 123) == "RC-2026-0000123"
    assert receipt_number(2026, 12_345_678) == "RC-2026-12345678"
    assert parse_receipt_number("RC-2026-0000123") == (2026, 123)
    with pytest.raises(ValueError, match="start at 1"):
        receipt_number(2026, 0)
    with pytest.raises(InvalidArgument):
        parse_receipt_number("RC-26-1")


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_receipt_numbers_sort_like_their_sequence_within_a_year(a: int, b: int) -> None:
    # Zero padding keeps string order = number order up to 9,999,999 a year.
    if a < 10**7 and b < 10**7:
        assert (receipt_number(2026, a) < receipt_number(2026, b)) == (a < b)
    assert parse_receipt_number(receipt_number(2026, a)) == (2026, a)


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    assert [retry_delay_seconds(n, cap=10) for n in range(0, 7)] == [1, 1, 2, 4, 8, 10, 10]


# ------------------------------------------------------------------ collection sheet


def kes(minor: int) -> Money:
    return Money(minor, "KES")


def due(loan: str, name: str, due_minor: int, arrears: int, dpd: int) -> DueLoan:
    return DueLoan(
        loan_id=loan,
        loan_number=f"LN-{loan}",
        borrower_id=f"b-{loan}",
        borrower_name=name,
        oldest_due_date=date(2026, 3, 10 - dpd) if dpd < 10 else date(2026, 2, 1),
        amount_due=kes(due_minor),
        arrears_amount=kes(arrears),
        days_past_due=dpd,
    )


def test_collection_rate_is_exact_half_even() -> None:
    assert collection_rate(7, 8) == "87.50"
    assert collection_rate(1, 3) == "33.33"
    assert collection_rate(2, 3) == "66.67"
    assert collection_rate(1, 8) == "12.50"
    # 1/800 = 0.125%: HALF_EVEN rounds to the even 0.12
    assert collection_rate(1, 800) == "0.12"
    assert collection_rate(3, 800) == "0.38"
    assert collection_rate(0, 0) == "0.00"
    assert collection_rate(5, 5) == "100.00"


def test_sheet_rows_and_totals() -> None:
    sheet = build_sheet(
        "agent-1",
        TODAY,
        [
            due("a", "Zawadi", 1_000, 0, 0),
            due("b", "Baraka", 1_000, 2_000, 14),
            due("c", "Amina", 0, 500, 3),
        ],
        [
            Collected("a", "LN-a", "b-a", "Zawadi", kes(400)),
            Collected("a", "LN-a", "b-a", "Zawadi", kes(100)),
            # Paid off that day: no longer due, still on the sheet.
            Collected("d", "LN-d", "b-d", "Chege", kes(1_500)),
        ],
        {"b-a": "+254700000001", "b-b": "+254700000002"},
    )
    assert [r.loan_id for r in sheet.rows] == ["b", "c", "d", "a"]  # DPD desc, then name
    row_a = sheet.rows[3]
    assert row_a.collected == kes(500)
    assert row_a.phone == "+254700000001"
    assert row_a.expected == kes(1_500)
    row_d = sheet.rows[2]
    assert row_d.total_due == kes(0)
    assert row_d.collected == kes(1_500)
    assert row_d.oldest_due_date is None
    assert row_d.phone == ""
    (totals,) = sheet.totals
    # expected = (1000 + 500) + (3000 + 0) + (500 + 0) + (0 + 1500) = 6500; collected 2000.
    assert totals.expected == kes(6_500)
    assert totals.collected == kes(2_000)
    assert totals.collection_rate == "30.77"
    assert totals.loan_count == 4


def test_sheet_totals_per_currency() -> None:
    usd_due = DueLoan("u", "LN-u", "b-u", "Uma", None, Money(300, "USD"), Money(0, "USD"), 0)
    sheet = build_sheet(
        "agent-1",
        TODAY,
        [due("k", "Kio", 1_000, 0, 0), usd_due],
        [Collected("u", "LN-u", "b-u", "Uma", Money(100, "USD"))],
        {},
    )
    assert [(t.currency, t.expected.amount_minor, t.collection_rate) for t in sheet.totals] == [
        ("KES", 1_000, "0.00"),
        ("USD", 400, "25.00"),
    ]


def test_empty_sheet() -> None:
    sheet = build_sheet("agent-1", TODAY, [], [], {})
    assert sheet.rows == ()
    assert sheet.totals == ()


@given(
    st.lists(
        st.tuples(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7)),
        max_size=30,
    )
)
def test_sheet_totals_add_up_and_rate_never_passes_100(
    rows: list[tuple[int, int, int]],
) -> None:
    dues = [due(str(i), f"n{i}", d, a, 0) for i, (d, a, _) in enumerate(rows)]
    got = [
        Collected(str(i), f"LN-{i}", f"b-{i}", f"n{i}", kes(c))
        for i, (_, _, c) in enumerate(rows)
        if c
    ]
    sheet = build_sheet("agent-1", TODAY, dues, got, {})
    if not rows:
        assert sheet.totals == ()
        return
    (totals,) = sheet.totals
    assert totals.expected.amount_minor == sum(d + a + c for d, a, c in rows)
    assert totals.collected.amount_minor == sum(c for _, _, c in rows)
    from decimal import Decimal

    assert Decimal("0") <= Decimal(totals.collection_rate) <= Decimal("100")


# ------------------------------------------------------------------ cash summary


def test_cash_summary_by_channel() -> None:
    summary = cash_summary(
        "agent-1",
        TODAY,
        [
            CashGroup(Channel.CASH, "KES", PaymentStatus.POSTED, 3, 3_000),
            CashGroup(Channel.CASH, "KES", PaymentStatus.REVERSED, 1, 500),
            CashGroup(Channel.MOBILE_MONEY, "KES", PaymentStatus.POSTED, 2, 2_500),
            CashGroup(Channel.BANK_TRANSFER, "USD", PaymentStatus.POSTED, 1, 700),
            CashGroup(Channel.CASH, "KES", PaymentStatus.REJECTED, 2, 9_000),
            CashGroup(Channel.MOBILE_MONEY, "KES", PaymentStatus.PENDING, 1, 100),
        ],
    )
    cash, mobile, bank = summary.channels
    assert (cash.channel, cash.posted_count, cash.posted_amount) == (Channel.CASH, 4, kes(3_500))
    assert (cash.reversed_count, cash.reversed_amount, cash.net_amount) == (1, kes(500), kes(3_000))
    assert (mobile.posted_amount, mobile.net_amount) == (kes(2_500), kes(2_500))
    assert bank.currency == "USD"
    assert bank.net_amount == Money(700, "USD")
    assert summary.net_totals == (kes(5_500), Money(700, "USD"))
    assert (summary.rejected_count, summary.pending_count) == (2, 1)


# ------------------------------------------------------------------ receipts


def test_money_formatting() -> None:
    assert format_money(Money(123_456, "KES")) == "KES 1,234.56"
    assert format_money(Money(1_500_000, "UGX")) == "UGX 1,500,000"
    assert format_money(Money(5, "BHD")) == "BHD 0.005"


def test_receipt_content_and_rendering() -> None:
    posted = payment(external_reference="QWE123", note="<b>market</b>").posted(
        APPLIED, "RC-2026-0000042", NOW, "agent-1"
    )
    view = receipt_view(posted, Institution("Umoja Microfinance", "Nairobi"), "Amina Field")
    details = dict(view.details)
    assert details["Receipt number"] == "RC-2026-0000042"
    assert details["Borrower"] == "Amina Wanjiru"
    assert details["Loan number"] == "LN-2026-000001"
    assert details["Reference"] == "QWE123"
    assert details["Received by"] == "Amina Field"
    assert view.amount == "KES 50.00"
    assert dict(view.allocation) == {
        "Penalties": "KES 1.00",
        "Interest": "KES 9.00",
        "Principal": "KES 40.00",
        "Total": "KES 50.00",
    }
    page = render_html(view).decode()
    assert "RC-2026-0000042" in page
    assert "Umoja Microfinance" in page
    assert "&lt;b&gt;market&lt;/b&gt;" in page
    assert "<b>market" not in page
    pdf = render_pdf(view)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1_000


def test_reversed_receipt_says_so_and_pending_has_none() -> None:
    with pytest.raises(FailedPrecondition, match="no receipt yet"):
        receipt_view(payment(), Institution("X"), "")
    posted = payment().posted(APPLIED, "RC-2026-0000042", NOW, "a")
    done = posted.reversal_requested(ReversalRequest("duplicate", "admin", NOW), NOW).reversed(
        Reversal("duplicate", "admin", NOW, "t9", "r1"), NOW
    )
    view = receipt_view(done, Institution("X"), "")
    assert view.reversal_notice.startswith("REVERSED on 2026-03-10")
    assert "duplicate" in view.reversal_notice
    assert dict(view.details)["Received by"] == "agent-1"  # no name: the staff id
    assert "REVERSED" in render_html(view).decode()
