"""Money as integer minor units, and the Decimal rounding helpers around it.

Amounts are never floats. Calculations that produce fractions of a minor unit
(interest, percentages) are done in ``Decimal`` and rounded back to whole
minor units with an explicit rounding mode, HALF_EVEN unless a rule says
otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol, overload

from shared.errors import FieldViolation, InvalidArgument

if TYPE_CHECKING:
    from microfinance.common.v1 import common_pb2

# ISO 4217 active codes, grouped by their minor-unit digits.
_CODES_BY_DIGITS: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
        "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP "
        "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
        "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
        "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
        "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
        "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
    ),
}

CURRENCY_EXPONENTS: dict[str, int] = {
    code: digits for digits, codes in _CODES_BY_DIGITS.items() for code in codes.split()
}

# Enough digits for any int64 minor amount times a rate with many decimals.
_CTX = Context(prec=60)
_INT64_MAX = 2**63 - 1
_RATE_RE = re.compile(r"[0-9]{1,6}(\.[0-9]{1,10})?")

# The largest single amount any request may carry (MF_MAX_AMOUNT_MINOR). Far below int64,
# so the sums the system stores and reports (a day's cash, a sheet's totals, a loan's
# payments) stay exact and inside int64: 10^12 leaves room for 9 million such amounts.
DEFAULT_MAX_AMOUNT_MINOR = 10**12
MAX_AMOUNT_MINOR_CEILING = 10**15
_max_amount_minor = DEFAULT_MAX_AMOUNT_MINOR


def max_amount_minor() -> int:
    return _max_amount_minor


def set_max_amount_minor(value: int) -> None:
    """Set once at start-up from the settings (every process reads the same variable)."""
    global _max_amount_minor
    if not 1 <= value <= MAX_AMOUNT_MINOR_CEILING:
        raise ValueError(f"the maximum amount must be 1 to {MAX_AMOUNT_MINOR_CEILING}")
    _max_amount_minor = value


def amount_violation(amount_minor: int, field: str) -> FieldViolation | None:
    """Why a request amount is refused for being too large, or None."""
    limit = _max_amount_minor
    if amount_minor > limit:
        return FieldViolation(field, f"must be at most {limit} minor units")
    return None


def currency_violation(
    code: str, field: str, *, as_sent: str | None = None
) -> FieldViolation | None:
    """Why a request's currency is refused (missing, or no ISO 4217 code), or None. The
    message quotes ``as_sent``, the text before any normalising, when given."""
    if not code:
        return FieldViolation(field, "is required")
    if code not in CURRENCY_EXPONENTS:
        shown = code if as_sent is None else as_sent
        return FieldViolation(field, f"unknown ISO 4217 code {shown!r}")
    return None


def currency_exponent(code: str, *, field: str = "currency") -> int:
    """Minor-unit digits of an ISO 4217 currency; InvalidArgument if unknown."""
    try:
        return CURRENCY_EXPONENTS[code]
    except KeyError:
        raise InvalidArgument.field(field, f"unknown ISO 4217 currency code {code!r}") from None


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def quantize_minor(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> int:
    """Round an amount expressed in (possibly fractional) minor units to a whole number."""
    if not value.is_finite():
        raise InvalidArgument(f"cannot round non-finite amount {value}")
    return int(value.quantize(Decimal(1), rounding=rounding, context=_CTX))


def round_to_multiple(minor: int, multiple: int, rounding: str = ROUND_HALF_EVEN) -> int:
    """Round a minor amount to a multiple of ``multiple`` (e.g. whole 100s of UGX)."""
    if multiple <= 0:
        raise InvalidArgument.field("multiple", "must be a positive number of minor units")
    units = _CTX.divide(Decimal(minor), Decimal(multiple))
    return quantize_minor(units, rounding) * multiple


def parse_rate(
    value: str,
    *,
    field: str = "rate",
    max_value: Decimal | None = None,
) -> Decimal:
    """Parse a rate given as a plain decimal string ("24.5" means 24.5%).

    Only digits with an optional fraction are accepted: no sign, exponent,
    NaN, infinity, whitespace or thousands separators. The result is exact.
    """
    if not isinstance(value, str) or not _RATE_RE.fullmatch(value):
        raise InvalidArgument.field(
            field, f"must be a non-negative decimal string like '24.5', got {value!r}"
        )
    rate = Decimal(value)
    if max_value is not None and rate > max_value:
        raise InvalidArgument.field(field, f"must be at most {max_value}, got {value}")
    return rate


def allocate(total: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights``, summing exactly.

    Largest remainder method: each share is floored, then the units left over
    go one at a time to the largest fractional remainders (ties to the earlier
    share), so the result is deterministic.
    """
    if not weights:
        raise InvalidArgument.field("weights", "at least one weight is needed")
    dweights = [Decimal(w) for w in weights]
    if any((not w.is_finite()) or w < 0 for w in dweights):
        raise InvalidArgument.field("weights", "weights must be finite and non-negative")
    weight_sum = sum(dweights, Decimal(0))
    if weight_sum == 0:
        raise InvalidArgument.field("weights", "weights must not all be zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares: list[int] = []
    remainders: list[tuple[Decimal, int]] = []
    for index, weight in enumerate(dweights):
        exact = _CTX.divide(_CTX.multiply(Decimal(magnitude), weight), weight_sum)
        floor = int(exact.to_integral_value(rounding=ROUND_FLOOR, context=_CTX))
        shares.append(floor)
        remainders.append((exact - floor, index))
    left = magnitude - sum(shares)
    # Highest remainder first; on equal remainders the lower index wins.
    for _, index in sorted(remainders, key=lambda r: (-r[0], r[1]))[:left]:
        shares[index] += 1
    return [sign * share for share in shares]


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency, in integer minor units (cents, not dollars)."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise InvalidArgument.field("amount_minor", "must be an integer number of minor units")
        if abs(self.amount_minor) > _INT64_MAX:
            raise InvalidArgument.field("amount_minor", "is out of the int64 range")
        currency_exponent(self.currency)

    # construction -----------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, value: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN
    ) -> Money:
        """From an amount in major units (Decimal("12.345") USD -> 1234 or 1235 cents)."""
        if not isinstance(value, Decimal):
            raise InvalidArgument.field("amount", "must be a Decimal, never a float")
        exponent = currency_exponent(currency)
        try:
            minor = quantize_minor(value.scaleb(exponent, context=_CTX), rounding)
        except InvalidOperation:
            raise InvalidArgument.field("amount", f"is not a valid amount: {value}") from None
        return cls(minor, currency)

    @classmethod
    def parse(cls, text: str, currency: str, *, field: str = "amount") -> Money:
        """Parse a major-unit string exactly; more decimals than the currency has is an error."""
        exponent = currency_exponent(currency)
        if not re.fullmatch(r"-?[0-9]{1,19}(\.[0-9]{1,30})?", text):
            raise InvalidArgument.field(field, f"must be a decimal amount, got {text!r}")
        value = Decimal(text)
        scaled = value.scaleb(exponent, context=_CTX)
        if scaled != scaled.to_integral_value(context=_CTX):
            raise InvalidArgument.field(
                field, f"{currency} has {exponent} decimal places, got {text!r}"
            )
        return cls(int(scaled), currency)

    # conversion -------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        """The amount in major units, exact (1234 USD cents -> Decimal("12.34"))."""
        return Decimal(self.amount_minor).scaleb(-self.exponent, context=_CTX)

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"

    # arithmetic -------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidArgument.field(
                "currency", f"cannot combine {self.currency} with {other.currency}"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount_minor + self._same(other).amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount_minor - self._same(other).amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount_minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        # Only whole multiples: fractional products need an explicit rounding.
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Money(self.amount_minor * factor, self.currency)

    __rmul__ = __mul__

    def multiply(self, factor: Decimal, rounding: str = ROUND_HALF_EVEN) -> Money:
        product = _CTX.multiply(Decimal(self.amount_minor), factor)
        return Money(quantize_minor(product, rounding), self.currency)

    def percent(self, rate_percent: Decimal, rounding: str = ROUND_HALF_EVEN) -> Money:
        """``rate_percent`` % of this amount (Decimal("2.5") -> 2.5%)."""
        return self.multiply(_CTX.divide(rate_percent, Decimal(100)), rounding)

    def allocate(self, weights: Sequence[int | Decimal]) -> list[Money]:
        return [Money(share, self.currency) for share in allocate(self.amount_minor, weights)]

    def is_zero(self) -> bool:
        return self.amount_minor == 0

    def is_positive(self) -> bool:
        return self.amount_minor > 0

    def is_negative(self) -> bool:
        return self.amount_minor < 0

    # comparison (equality is the dataclass one: different currencies are unequal)
    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._same(other).amount_minor

    def __le__(self, other: Money) -> bool:
        return self.amount_minor <= self._same(other).amount_minor

    def __gt__(self, other: Money) -> bool:
        return self.amount_minor > self._same(other).amount_minor

    def __ge__(self, other: Money) -> bool:
        return self.amount_minor >= self._same(other).amount_minor


def money_sum(items: Sequence[Money], currency: str) -> Money:
    """Sum that is well defined for an empty sequence."""
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total


class MoneyFields(Protocol):
    """Anything shaped like Money: the domain value, or a request body's money field."""

    @property
    def amount_minor(self) -> int: ...

    @property
    def currency(self) -> str: ...


@overload
def to_proto(money: MoneyFields) -> common_pb2.Money: ...


@overload
def to_proto(money: int, currency: str) -> common_pb2.Money: ...


def to_proto(money: MoneyFields | int, currency: str | None = None) -> common_pb2.Money:
    """The wire Money of ``money``, or of an amount in minor units of ``currency``."""
    from microfinance.common.v1 import common_pb2

    if isinstance(money, int):
        if currency is None:
            raise TypeError("an amount in minor units needs its currency")
        return common_pb2.Money(amount_minor=money, currency=currency)
    return common_pb2.Money(amount_minor=money.amount_minor, currency=money.currency)


def from_proto(
    message: common_pb2.Money,
    *,
    field: str = "amount",
    allow_negative: bool = False,
    expected_currency: str | None = None,
) -> Money:
    """Validate a wire Money and build the domain value, naming ``field`` on errors."""
    violations: list[FieldViolation] = []
    if bad_currency := currency_violation(message.currency, f"{field}.currency"):
        violations.append(bad_currency)
    elif expected_currency is not None and message.currency != expected_currency:
        violations.append(
            FieldViolation(f"{field}.currency", f"must be {expected_currency}")
        )
    if message.amount_minor < 0 and not allow_negative:
        violations.append(FieldViolation(f"{field}.amount_minor", "must not be negative"))
    elif too_large := amount_violation(abs(message.amount_minor), f"{field}.amount_minor"):
        violations.append(too_large)
    if violations:
        raise InvalidArgument.fields(violations)
    return Money(int(message.amount_minor), message.currency)


__all__ = [
    "CURRENCY_EXPONENTS",
    "DEFAULT_MAX_AMOUNT_MINOR",
    "Money",
    "MoneyFields",
    "allocate",
    "amount_violation",
    "currency_exponent",
    "from_proto",
    "is_currency",
    "max_amount_minor",
    "money_sum",
    "parse_rate",
    "quantize_minor",
    "round_to_multiple",
    "set_max_amount_minor",
    "to_proto",
]
