from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidArgument
from shared.money import (
    CURRENCY_EXPONENTS,
    Money,
    allocate,
    amount_violation,
    currency_exponent,
    from_proto,
    money_sum,
    parse_rate,
    quantize_minor,
    round_to_multiple,
)

INT64 = 2**63 - 1
amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("USD", 2), ("EUR", 2), ("GBP", 2), ("KES", 2), ("UGX", 0), ("TZS", 2), ("RWF", 0),
        ("NGN", 2), ("GHS", 2), ("XOF", 0), ("XAF", 0), ("INR", 2), ("PKR", 2), ("BDT", 2),
        ("PHP", 2), ("IDR", 2), ("KHR", 2), ("MMK", 2), ("ETB", 2), ("ZMW", 2), ("MWK", 2),
        ("JPY", 0), ("KWD", 3), ("BHD", 3), ("TND", 3), ("CLF", 4),
    ],
)
def test_currency_exponents(code: str, digits: int) -> None:
    assert currency_exponent(code) == digits


@pytest.mark.parametrize("code", ["usd", "XXX", "", "US", "DOLLAR"])
def test_unknown_currency_is_invalid_argument(code: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        currency_exponent(code)
    assert info.value.violations[0].field == "currency"
    with pytest.raises(InvalidArgument):
        Money(1, code)


def test_money_rejects_non_int_amounts() -> None:
    with pytest.raises(InvalidArgument):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Money(True, "USD")
    with pytest.raises(InvalidArgument):
        Money(INT64 + 1, "USD")


def test_money_is_immutable_and_hashable() -> None:
    m = Money(100, "USD")
    with pytest.raises(AttributeError):
        m.amount_minor = 5  # type: ignore[misc]
    assert {m, Money(100, "USD")} == {m}


def test_mixing_currencies_raises() -> None:
    usd, kes = Money(100, "USD"), Money(100, "KES")
    for op in (
        lambda: usd + kes,
        lambda: usd - kes,
        lambda: usd < kes,
        lambda: usd <= kes,
        lambda: usd > kes,
        lambda: usd >= kes,
    ):
        with pytest.raises(InvalidArgument):
            op()
    assert usd != kes


def test_decimal_conversion() -> None:
    assert Money.from_decimal(Decimal("12.345"), "USD") == Money(1234, "USD")  # half even
    assert Money.from_decimal(Decimal("12.355"), "USD") == Money(1236, "USD")
    assert Money.from_decimal(Decimal("12.345"), "USD", ROUND_HALF_UP) == Money(1235, "USD")
    assert Money.from_decimal(Decimal("1500.5"), "UGX") == Money(1500, "UGX")
    assert Money.from_decimal(Decimal("1.2345"), "KWD") == Money(1234, "KWD")
    assert Money(1234, "USD").to_decimal() == Decimal("12.34")
    assert str(Money(1234, "USD").to_decimal()) == "12.34"
    assert str(Money(5, "UGX")) == "5 UGX"
    assert str(Money(-5, "KWD")) == "-0.005 KWD"
    with pytest.raises(InvalidArgument):
        Money.from_decimal(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Money.from_decimal(Decimal("NaN"), "USD")


def test_parse_exact_amounts() -> None:
    assert Money.parse("10.50", "USD") == Money(1050, "USD")
    assert Money.parse("10", "UGX") == Money(10, "UGX")
    with pytest.raises(InvalidArgument):
        Money.parse("10.5", "UGX")
    with pytest.raises(InvalidArgument):
        Money.parse("1e3", "USD")


@given(amounts, currencies)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    m = Money(minor, currency)
    assert Money.from_decimal(m.to_decimal(), currency) == m


@given(amounts, amounts, currencies)
def test_arithmetic_matches_integers(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y).amount_minor == a + b
    assert (x - y).amount_minor == a - b
    assert (x + y) - y == x
    assert (x < y) == (a < b)
    assert (x >= y) == (a >= b)
    negated = -x
    assert -negated == x
    assert (x * 3).amount_minor == 3 * a == (3 * x).amount_minor


def test_quantize_minor_modes() -> None:
    assert quantize_minor(Decimal("2.5")) == 2
    assert quantize_minor(Decimal("3.5")) == 4
    assert quantize_minor(Decimal("-2.5")) == -2
    assert quantize_minor(Decimal("2.5"), ROUND_HALF_UP) == 3
    assert quantize_minor(Decimal("2.1"), ROUND_UP) == 3
    assert quantize_minor(Decimal("2.9"), ROUND_DOWN) == 2
    with pytest.raises(InvalidArgument):
        quantize_minor(Decimal("Infinity"))


def test_round_to_multiple() -> None:
    assert round_to_multiple(12_345, 100) == 12_300
    assert round_to_multiple(12_350, 100) == 12_400  # half even: 123.5 -> 124
    assert round_to_multiple(12_250, 100) == 12_200  # 122.5 -> 122
    assert round_to_multiple(12_301, 100, ROUND_UP) == 12_400
    assert round_to_multiple(7, 1) == 7
    with pytest.raises(InvalidArgument):
        round_to_multiple(7, 0)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10_000))
def test_round_to_multiple_is_a_multiple_and_close(minor: int, multiple: int) -> None:
    rounded = round_to_multiple(minor, multiple)
    assert rounded % multiple == 0
    assert abs(rounded - minor) * 2 <= multiple


@pytest.mark.parametrize(
    ("text", "value"), [("24.5", Decimal("24.5")), ("0", Decimal(0)), ("10", Decimal(10)),
                        ("0.125", Decimal("0.125"))],
)
def test_parse_rate_accepts_plain_decimals(text: str, value: Decimal) -> None:
    assert parse_rate(text) == value


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "-1", "+1", "NaN", "nan", "inf", "Infinity", "1e2", "1E-2", "1,5", "1.",
     ".5", "0x10", "12%", "1.2.3", "١٢"],
)
def test_parse_rate_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_rate(text, field="annual_rate")
    assert info.value.violations[0].field == "annual_rate"


def test_parse_rate_max_value() -> None:
    assert parse_rate("100", max_value=Decimal(100)) == Decimal(100)
    with pytest.raises(InvalidArgument):
        parse_rate("100.01", max_value=Decimal(100))


def test_parse_rate_rejects_non_strings() -> None:
    with pytest.raises(InvalidArgument):
        parse_rate(24.5)  # type: ignore[arg-type]


def test_allocate_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(5, [0, 1]) == [0, 5]
    assert allocate(10, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")]) == [5, 3, 2]
    assert Money(1000, "USD").allocate([1, 2]) == [Money(333, "USD"), Money(667, "USD")]
    with pytest.raises(InvalidArgument):
        allocate(10, [])
    with pytest.raises(InvalidArgument):
        allocate(10, [0, 0])
    with pytest.raises(InvalidArgument):
        allocate(10, [1, -1])


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
)
def test_allocate_sums_exactly_and_is_fair(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert sum(shares) == total
    assert len(shares) == len(weights)
    weight_sum = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = Decimal(total) * weight / weight_sum
        assert abs(Decimal(share) - exact) < 1
        if weight == 0:
            assert share == 0


def test_percent_and_multiply() -> None:
    assert Money(10_000, "USD").percent(Decimal("2.5")) == Money(250, "USD")
    assert Money(333, "USD").percent(Decimal("10")) == Money(33, "USD")
    assert Money(335, "USD").percent(Decimal("10")) == Money(34, "USD")  # 33.5 -> 34
    assert Money(100, "UGX").multiply(Decimal("0.015")) == Money(2, "UGX")  # 1.5 -> 2


def test_money_sum() -> None:
    assert money_sum([], "USD") == Money(0, "USD")
    assert money_sum([Money(1, "USD"), Money(2, "USD")], "USD") == Money(3, "USD")


def test_proto_round_trip() -> None:
    pytest.importorskip("microfinance.common.v1.common_pb2")
    from shared.money import from_proto, to_proto

    m = Money(123_456, "KES")
    msg = to_proto(m)
    assert msg.amount_minor == 123_456
    assert msg.currency == "KES"
    assert from_proto(msg) == m
    msg.currency = "ZZZ"
    with pytest.raises(InvalidArgument) as info:
        from_proto(msg, field="principal")
    assert info.value.violations[0].field == "principal.currency"
    msg.currency = "USD"
    msg.amount_minor = -5
    with pytest.raises(InvalidArgument):
        from_proto(msg)
    assert from_proto(msg, allow_negative=True) == Money(-5, "USD")


@given(
    st.integers(min_value=1 - 2**63, max_value=2**63 - 1), st.sampled_from(["KES", "UGX", "BHD"])
)
def test_to_proto_takes_a_money_or_minor_units(amount: int, currency: str) -> None:
    from shared.money import DEFAULT_MAX_AMOUNT_MINOR, from_proto, to_proto

    by_value = to_proto(Money(amount, currency))
    assert by_value == to_proto(amount, currency)
    assert (by_value.amount_minor, by_value.currency) == (amount, currency)
    if abs(amount) <= DEFAULT_MAX_AMOUNT_MINOR:  # larger is refused as a request amount
        assert from_proto(by_value, allow_negative=True) == Money(amount, currency)


def test_to_proto_takes_anything_shaped_like_money() -> None:
    from dataclasses import dataclass

    from shared.money import to_proto

    @dataclass
    class Body:  # a request body's money field
        amount_minor: int
        currency: str

    assert to_proto(Body(5, "USD")) == to_proto(Money(5, "USD"))
    with pytest.raises(TypeError):
        to_proto(5)  # type: ignore[call-overload]


def test_request_amounts_are_bounded_by_the_business_maximum() -> None:
    from microfinance.common.v1 import common_pb2
    from shared.money import DEFAULT_MAX_AMOUNT_MINOR, max_amount_minor, set_max_amount_minor

    assert max_amount_minor() == DEFAULT_MAX_AMOUNT_MINOR
    limit = common_pb2.Money(amount_minor=DEFAULT_MAX_AMOUNT_MINOR, currency="USD")
    assert from_proto(limit, field="principal").amount_minor == DEFAULT_MAX_AMOUNT_MINOR
    for amount in (DEFAULT_MAX_AMOUNT_MINOR + 1, 2**63 - 1):
        with pytest.raises(InvalidArgument) as err:
            from_proto(common_pb2.Money(amount_minor=amount, currency="USD"), field="principal")
        assert [v.field for v in err.value.violations] == ["principal.amount_minor"]
    with pytest.raises(InvalidArgument):
        from_proto(
            common_pb2.Money(amount_minor=-DEFAULT_MAX_AMOUNT_MINOR - 1, currency="USD"),
            allow_negative=True,
        )
    try:
        set_max_amount_minor(500)
        assert amount_violation(501, "amount.amount_minor") is not None
        assert amount_violation(500, "amount.amount_minor") is None
    finally:
        set_max_amount_minor(DEFAULT_MAX_AMOUNT_MINOR)
    with pytest.raises(ValueError, match="maximum amount"):
        set_max_amount_minor(10**15 + 1)
