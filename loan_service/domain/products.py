"""Loan product terms: the rules a loan is priced and scheduled by.

A loan keeps a snapshot of these terms from the day it was submitted, so a
``ProductTerms`` is an immutable value. Enum member names are the proto enum
names (``microfinance.loan.v1``), so the servicer maps them by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from loan_service.domain.rounding import div_half_even
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument
from shared.money import CURRENCY_EXPONENTS, Money, parse_rate

# Rates are percent a year; anything at or above 1000% is a typo, not a product.
MAX_ANNUAL_RATE = Decimal(1000)
# Ten years of weekly installments; a bound so schedules stay small.
MAX_INSTALLMENTS = 520
_HUNDRED = Decimal(100)


class RepaymentFrequency(StrEnum):
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    MONTHLY = "MONTHLY"

    @property
    def periods_per_year(self) -> int:
        return _PERIODS_PER_YEAR[self]


_PERIODS_PER_YEAR: dict[RepaymentFrequency, int] = {
    RepaymentFrequency.WEEKLY: 52,
    RepaymentFrequency.BIWEEKLY: 26,
    RepaymentFrequency.MONTHLY: 12,
}


class InterestMethod(StrEnum):
    FLAT = "FLAT"
    DECLINING_BALANCE = "DECLINING_BALANCE"


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "EQUAL_INSTALLMENTS"
    EQUAL_PRINCIPAL = "EQUAL_PRINCIPAL"


class ChargeType(StrEnum):
    """How a fee or penalty is sized (no charge at all is ``None`` on the terms)."""

    FIXED = "FIXED"
    PERCENT = "PERCENT"


def parse_annual_rate(text: str, *, field: str = "annual_rate") -> Decimal:
    """"24.5" -> Decimal("24.5") (percent a year); 0 <= rate < 1000."""
    rate = parse_rate(text, field=field)
    if rate >= MAX_ANNUAL_RATE:
        raise InvalidArgument.field(field, f"must be below {MAX_ANNUAL_RATE}, got {text}")
    return rate


def parse_percent(text: str, *, field: str) -> Decimal:
    """A charge percentage: a decimal string, 0 < p <= 100."""
    value = parse_rate(text, field=field)
    if not 0 < value <= _HUNDRED:
        raise InvalidArgument.field(field, f"must be above 0 and at most 100, got {text}")
    return value


def _percent_of(base_minor: int, percent: Decimal) -> int:
    # percent = num/den exactly, so base*num/(100*den) rounded half-even is exact.
    num, den = percent.as_integer_ratio()
    return div_half_even(base_minor * num, 100 * den)


def _charge_violations(
    type_: ChargeType, fixed_amount_minor: int, percent: Decimal, prefix: str
) -> list[FieldViolation]:
    """A fee or a penalty: a positive fixed amount, or a percentage above 0 up to 100."""
    out: list[FieldViolation] = []
    if type_ is ChargeType.FIXED:
        if not _is_int(fixed_amount_minor) or fixed_amount_minor <= 0:
            out.append(FieldViolation(f"{prefix}.fixed_amount", "must be a positive amount"))
    elif not _valid_percent(percent):
        out.append(FieldViolation(f"{prefix}.percent", "must be above 0 and at most 100"))
    return out


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """Upfront fee, deducted from the principal at disbursement."""

    type: ChargeType
    fixed_amount_minor: int = 0
    percent: Decimal = Decimal(0)

    def amount_for(self, principal_minor: int) -> int:
        if self.type is ChargeType.FIXED:
            return self.fixed_amount_minor
        return _percent_of(principal_minor, self.percent)

    def violations(self, prefix: str = "fee") -> list[FieldViolation]:
        return _charge_violations(self.type, self.fixed_amount_minor, self.percent, prefix)


@dataclass(frozen=True, slots=True)
class PenaltyTerms:
    """Late penalty, charged once per installment after ``grace_days`` days overdue."""

    type: ChargeType
    fixed_amount_minor: int = 0
    # Percent of the overdue installment amount (its unpaid principal, interest and fee).
    percent: Decimal = Decimal(0)
    grace_days: int = 0

    def amount_for(self, overdue_minor: int) -> int:
        if overdue_minor <= 0:
            return 0
        if self.type is ChargeType.FIXED:
            return self.fixed_amount_minor
        return _percent_of(overdue_minor, self.percent)

    def violations(self, prefix: str = "late_penalty") -> list[FieldViolation]:
        out = _charge_violations(self.type, self.fixed_amount_minor, self.percent, prefix)
        if not _is_int(self.grace_days) or not 0 <= self.grace_days <= 365:
            out.append(FieldViolation(f"{prefix}.grace_days", "must be between 0 and 365"))
        return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_percent(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and 0 < value <= _HUNDRED


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """Everything that prices and schedules a loan. Amounts are minor units."""

    currency: str
    principal_min: int
    principal_max: int
    installments_min: int
    installments_max: int
    frequency: RepaymentFrequency
    interest_method: InterestMethod
    amortization: Amortization
    # Percent a year: Decimal("24.5") is 24.5%. Parse strings with parse_annual_rate.
    annual_rate: Decimal
    principal_grace_installments: int = 0
    rounding_multiple_minor: int = 1
    fee: FeeTerms | None = None
    late_penalty: PenaltyTerms | None = None
    max_active_loans_per_borrower: int = 1
    _rate_ratio: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Exact numerator/denominator of the annual rate, for the schedule's integer maths.
        ratio = (
            self.annual_rate.as_integer_ratio()
            if isinstance(self.annual_rate, Decimal) and self.annual_rate.is_finite()
            else (0, 1)
        )
        object.__setattr__(self, "_rate_ratio", ratio)

    @property
    def rate_ratio(self) -> tuple[int, int]:
        """The annual percent rate as an exact (numerator, denominator)."""
        return self._rate_ratio

    def violations(self) -> list[FieldViolation]:
        out: list[FieldViolation] = []
        if self.currency not in CURRENCY_EXPONENTS:
            out.append(FieldViolation("currency", f"unknown ISO 4217 code {self.currency!r}"))
        if not _is_int(self.principal_min) or self.principal_min <= 0:
            out.append(FieldViolation("principal_min", "must be a positive amount"))
        if not _is_int(self.principal_max) or self.principal_max <= 0:
            out.append(FieldViolation("principal_max", "must be a positive amount"))
        elif _is_int(self.principal_min) and self.principal_max < self.principal_min:
            out.append(FieldViolation("principal_max", "must not be below principal_min"))
        imin, imax = self.installments_min, self.installments_max
        if not _is_int(imin) or not 1 <= imin <= MAX_INSTALLMENTS:
            out.append(
                FieldViolation("installments_min", f"must be between 1 and {MAX_INSTALLMENTS}")
            )
        if not _is_int(imax) or not 1 <= imax <= MAX_INSTALLMENTS:
            out.append(
                FieldViolation("installments_max", f"must be between 1 and {MAX_INSTALLMENTS}")
            )
        elif _is_int(imin) and imax < imin:
            out.append(FieldViolation("installments_max", "must not be below installments_min"))
        if not isinstance(self.frequency, RepaymentFrequency):
            out.append(FieldViolation("frequency", "must be WEEKLY, BIWEEKLY or MONTHLY"))
        if not isinstance(self.interest_method, InterestMethod):
            out.append(FieldViolation("interest_method", "must be FLAT or DECLINING_BALANCE"))
        if not isinstance(self.amortization, Amortization):
            out.append(
                FieldViolation("amortization", "must be EQUAL_INSTALLMENTS or EQUAL_PRINCIPAL")
            )
        rate = self.annual_rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate < 1000:
            out.append(FieldViolation("annual_rate", "must be at least 0 and below 1000"))
        grace = self.principal_grace_installments
        if not _is_int(grace) or grace < 0:
            out.append(FieldViolation("principal_grace_installments", "must not be negative"))
        elif _is_int(imin) and 1 <= imin <= grace:
            # At least one installment must repay principal.
            out.append(
                FieldViolation("principal_grace_installments", "must be below installments_min")
            )
        multiple = self.rounding_multiple_minor
        if not _is_int(multiple) or multiple < 1:
            out.append(FieldViolation("rounding_multiple_minor", "must be at least 1"))
        elif _is_int(self.principal_min) and multiple > self.principal_min > 0:
            out.append(
                FieldViolation("rounding_multiple_minor", "must not exceed principal_min")
            )
        if self.fee is not None:
            out.extend(self.fee.violations())
            if (
                self.fee.type is ChargeType.FIXED
                and _is_int(self.principal_min)
                and self.fee.fixed_amount_minor >= self.principal_min > 0
            ):
                # The borrower must receive something.
                out.append(FieldViolation("fee.fixed_amount", "must be below principal_min"))
            if self.fee.type is ChargeType.PERCENT and self.fee.percent >= _HUNDRED:
                out.append(FieldViolation("fee.percent", "must be below 100"))
        if self.late_penalty is not None:
            out.extend(self.late_penalty.violations())
        cap = self.max_active_loans_per_borrower
        if not _is_int(cap) or cap < 1:
            out.append(FieldViolation("max_active_loans_per_borrower", "must be at least 1"))
        return out

    def validate(self) -> ProductTerms:
        """Raise InvalidArgument naming every bad field; return self for chaining."""
        problems = self.violations()
        if problems:
            raise InvalidArgument.fields(problems)
        return self

    # -- loans against the product ------------------------------------------------
    def check_request(
        self, principal_minor: int, installments: int, *, currency: str | None = None
    ) -> None:
        """A loan request must be within the product's ranges (InvalidArgument otherwise)."""
        out: list[FieldViolation] = []
        if currency is not None and currency != self.currency:
            out.append(FieldViolation("principal.currency", f"must be {self.currency}"))
        if not _is_int(principal_minor) or not (
            self.principal_min <= principal_minor <= self.principal_max
        ):
            low, high = self.money(self.principal_min), self.money(self.principal_max)
            out.append(FieldViolation("principal", f"must be between {low} and {high}"))
        if not _is_int(installments) or not (
            self.installments_min <= installments <= self.installments_max
        ):
            out.append(
                FieldViolation(
                    "installments",
                    f"must be between {self.installments_min} and {self.installments_max}",
                )
            )
        elif installments <= self.principal_grace_installments:
            out.append(
                FieldViolation(
                    "installments",
                    f"must exceed the {self.principal_grace_installments} grace installments",
                )
            )
        if not out and self.upfront_fee(principal_minor) >= principal_minor:
            out.append(FieldViolation("principal", "must exceed the upfront fee"))
        if out:
            raise InvalidArgument.fields(out)

    def check_active_loan_limit(self, active_loans: int) -> None:
        """The borrower's loans counted as active must leave room for one more."""
        if active_loans >= self.max_active_loans_per_borrower:
            raise FailedPrecondition(
                f"borrower already has {active_loans} active loan(s); this product allows "
                f"{self.max_active_loans_per_borrower}"
            )

    def upfront_fee(self, principal_minor: int) -> int:
        return 0 if self.fee is None else self.fee.amount_for(principal_minor)

    def money(self, amount_minor: int) -> Money:
        return Money(amount_minor, self.currency)


__all__ = [
    "MAX_ANNUAL_RATE",
    "MAX_INSTALLMENTS",
    "Amortization",
    "ChargeType",
    "FeeTerms",
    "InterestMethod",
    "PenaltyTerms",
    "ProductTerms",
    "RepaymentFrequency",
    "parse_annual_rate",
    "parse_percent",
]
