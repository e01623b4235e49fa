"""Product terms: validation with field names, request checks, fees and penalties."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from loan_service.adapters.product_repository import terms_from_doc, terms_to_doc
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    FeeTerms,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
    parse_annual_rate,
    parse_percent,
)
from shared.errors import FailedPrecondition, InvalidArgument

BASE = ProductTerms(
    currency="USD",
    principal_min=5_000,
    principal_max=500_000,
    installments_min=4,
    installments_max=52,
    frequency=RepaymentFrequency.WEEKLY,
    interest_method=InterestMethod.DECLINING_BALANCE,
    amortization=Amortization.EQUAL_INSTALLMENTS,
    annual_rate=Decimal("24.5"),
    principal_grace_installments=1,
    rounding_multiple_minor=5,
    fee=FeeTerms(ChargeType.PERCENT, percent=Decimal("2.5")),
    late_penalty=PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=200, grace_days=3),
)


def fields_of(error: InvalidArgument) -> list[str]:
    return [v.field for v in error.violations]


def test_valid_product_validates() -> None:
    assert BASE.validate() is BASE
    assert BASE.frequency.periods_per_year == 52
    assert RepaymentFrequency.BIWEEKLY.periods_per_year == 26
    assert RepaymentFrequency.MONTHLY.periods_per_year == 12
    assert BASE.rate_ratio == (49, 2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"principal_min": 0}, "principal_min"),
        ({"principal_max": 4_999}, "principal_max"),
        ({"principal_max": -1}, "principal_max"),
        ({"installments_min": 0}, "installments_min"),
        ({"installments_max": 3}, "installments_max"),
        ({"installments_max": 521}, "installments_max"),
        ({"annual_rate": Decimal(1000)}, "annual_rate"),
        ({"annual_rate": Decimal(-1)}, "annual_rate"),
        ({"annual_rate": Decimal("NaN")}, "annual_rate"),
        ({"principal_grace_installments": 4}, "principal_grace_installments"),
        ({"principal_grace_installments": -1}, "principal_grace_installments"),
        ({"rounding_multiple_minor": 0}, "rounding_multiple_minor"),
        ({"rounding_multiple_minor": 5_001}, "rounding_multiple_minor"),
        ({"fee": FeeTerms(ChargeType.FIXED, fixed_amount_minor=0)}, "fee.fixed_amount"),
        ({"fee": FeeTerms(ChargeType.FIXED, fixed_amount_minor=5_000)}, "fee.fixed_amount"),
        ({"fee": FeeTerms(ChargeType.PERCENT, percent=Decimal(0))}, "fee.percent"),
        ({"fee": FeeTerms(ChargeType.PERCENT, percent=Decimal(100))}, "fee.percent"),
        (
            {"late_penalty": PenaltyTerms(ChargeType.PERCENT, percent=Decimal(101))},
            "late_penalty.percent",
        ),
        (
            {"late_penalty": PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=-5)},
            "late_penalty.fixed_amount",
        ),
        (
            {"late_penalty": PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=5, grace_days=-1)},
            "late_penalty.grace_days",
        ),
        ({"max_active_loans_per_borrower": 0}, "max_active_loans_per_borrower"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        replace(BASE, **changes).validate()  # type: ignore[arg-type]
    assert fields_of(info.value) == [field]


def test_all_problems_are_reported_together() -> None:
    bad = replace(BASE, principal_min=0, annual_rate=Decimal(2000), installments_max=2)
    with pytest.raises(InvalidArgument) as info:
        bad.validate()
    assert fields_of(info.value) == ["principal_min", "installments_max", "annual_rate"]
    assert "annual_rate" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24.5", Decimal("24.5")), ("0", Decimal(0)), ("999.99", Decimal("999.99"))],
)
def test_parse_annual_rate(text: str, expected: Decimal) -> None:
    assert parse_annual_rate(text) == expected


@pytest.mark.parametrize("text", ["1000", "1500.5", "-1", "abc", "1e3", "", " 5", "NaN", "2,5"])
def test_parse_annual_rate_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_annual_rate(text)
    assert fields_of(info.value) == ["annual_rate"]


def test_parse_percent() -> None:
    assert parse_percent("2.5", field="fee.percent") == Decimal("2.5")
    for text in ("0", "100.01", "x"):
        with pytest.raises(InvalidArgument) as info:
            parse_percent(text, field="fee.percent")
        assert fields_of(info.value) == ["fee.percent"]


def test_check_request_in_range() -> None:
    BASE.check_request(5_000, 4)
    BASE.check_request(500_000, 52, currency="USD")


@pytest.mark.parametrize(
    ("principal", "installments", "currency", "fields"),
    [
        (4_999, 4, None, ["principal"]),
        (500_001, 4, None, ["principal"]),
        (5_000, 3, None, ["installments"]),
        (5_000, 53, None, ["installments"]),
        (1, 100, "EUR", ["principal.currency", "principal", "installments"]),
    ],
)
def test_check_request_out_of_range(
    principal: int, installments: int, currency: str | None, fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as info:
        BASE.check_request(principal, installments, currency=currency)
    assert fields_of(info.value) == fields


def test_check_request_message_states_the_range_in_money() -> None:
    with pytest.raises(InvalidArgument) as info:
        BASE.check_request(1, 4)
    assert info.value.violations[0].description == "must be between 50.00 USD and 5000.00 USD"


def test_active_loan_limit() -> None:
    BASE.check_active_loan_limit(0)
    with pytest.raises(FailedPrecondition, match="already has 1 active loan"):
        BASE.check_active_loan_limit(1)
    replace(BASE, max_active_loans_per_borrower=3).check_active_loan_limit(2)


def test_upfront_fee_rounds_half_even() -> None:
    # 2.5% of 100020 = 2500.5 -> 2500 (tie to even); of 100060 = 2501.5 -> 2502.
    assert BASE.upfront_fee(100_020) == 2500
    assert BASE.upfront_fee(100_060) == 2502
    assert replace(BASE, fee=None).upfront_fee(100_000) == 0
    fixed = replace(BASE, fee=FeeTerms(ChargeType.FIXED, fixed_amount_minor=750))
    assert fixed.upfront_fee(123_456) == 750


def test_penalty_amounts() -> None:
    percent = PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=2)
    # 5% of 34002 = 1700.1 -> 1700.
    assert percent.amount_for(34_002) == 1700
    assert percent.amount_for(0) == 0
    fixed = PenaltyTerms(ChargeType.FIXED, fixed_amount_minor=300)
    assert fixed.amount_for(1) == 300
    assert fixed.amount_for(0) == 0


def test_terms_round_trip_through_dict() -> None:
    assert terms_from_doc(terms_to_doc(BASE)) == BASE
    plain = replace(BASE, fee=None, late_penalty=None)
    assert terms_from_doc(terms_to_doc(plain)) == plain
