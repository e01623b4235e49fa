"""Payments: the entity, its state machine, request validation and fingerprints.

A payment is recorded PENDING before the loan service is asked to apply it,
so nothing a field agent posts is lost if a process or a network fails in
between. It then becomes POSTED (with the loan service's allocation and a
receipt number) or REJECTED (with the loan service's reason). Only an admin
can take a POSTED payment to REVERSED. Nothing is ever deleted.

The idempotency key belongs to the poster. The request body is reduced to a
fingerprint (a SHA-256 of its fields as sent), so a repeat of the same key
with the same body is recognised as a replay and one with another body is
refused, without keeping the raw body around.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from shared.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from shared.money import Money, amount_violation, currency_violation
from shared.text import single_line
from shared.validation import parse_date

MAX_IDEMPOTENCY_KEY = 128
MAX_REFERENCE = 100
MAX_NOTE = 500
MAX_REASON = 500
MAX_LOAN_ID = 64
# Printable ASCII without spaces: keys travel in an HTTP header and in logs.
_KEY_RE = re.compile(r"[\x21-\x7e]+")
_RECEIPT_RE = re.compile(r"RC-(\d{4})-(\d{7,})")


class Channel(StrEnum):
    CASH = "CASH"
    MOBILE_MONEY = "MOBILE_MONEY"
    BANK_TRANSFER = "BANK_TRANSFER"


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    REJECTED = "REJECTED"
    REVERSED = "REVERSED"


class PosterRole(StrEnum):
    ADMIN = "ADMIN"
    AGENT = "AGENT"


TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.POSTED, PaymentStatus.REJECTED}),
    PaymentStatus.POSTED: frozenset({PaymentStatus.REVERSED}),
    PaymentStatus.REJECTED: frozenset(),
    PaymentStatus.REVERSED: frozenset(),
}


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    if not can_transition(current, target):
        raise FailedPrecondition(f"payment is {current.value}; it cannot become {target.value}")


# ------------------------------------------------------------------ allocation


@dataclass(frozen=True, slots=True)
class InstallmentSplit:
    installment_number: int
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class Allocation:
    """What the loan service spent the payment on, in minor units of its currency."""

    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0
    recovery: int = 0
    interest_waived: int = 0
    installments: tuple[InstallmentSplit, ...] = ()

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal + self.recovery


# ------------------------------------------------------------------ requests


@dataclass(frozen=True, slots=True)
class RawPaymentRequest:
    """A PostPayment request as received, before any checking."""

    idempotency_key: str
    loan_id: str
    amount_minor: int
    currency: str
    value_date: str
    channel: str
    external_reference: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A checked request: everything here is safe to record."""

    idempotency_key: str
    loan_id: str
    amount: Money
    value_date: date
    channel: Channel
    external_reference: str
    note: str
    fingerprint: str


def _clean(value: str) -> str:
    return " ".join(value.split())


def fingerprint(raw: RawPaymentRequest) -> str:
    """SHA-256 over the body as sent (value_date "" stays "", meaning "today").

    So a client that retries a default-dated payment the next day still gets
    the first result, and whitespace differences do not count as a new body.
    """
    canonical = {
        "loan_id": raw.loan_id.strip(),
        "amount_minor": raw.amount_minor,
        "currency": raw.currency.strip().upper(),
        "value_date": raw.value_date.strip(),
        "channel": raw.channel.strip().upper(),
        "external_reference": raw.external_reference.strip(),
        "note": _clean(raw.note),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def validate_request(raw: RawPaymentRequest, today: date) -> PaymentRequest:
    """Every field problem at once, before anything is recorded."""
    violations: list[FieldViolation] = []
    key = raw.idempotency_key.strip()
    if not key:
        violations.append(FieldViolation("idempotency_key", "is required"))
    elif len(key) > MAX_IDEMPOTENCY_KEY or not _KEY_RE.fullmatch(key):
        violations.append(
            FieldViolation(
                "idempotency_key",
                f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces",
            )
        )
    loan_id = raw.loan_id.strip()
    if not loan_id:
        violations.append(FieldViolation("loan_id", "is required"))
    elif len(loan_id) > MAX_LOAN_ID:
        violations.append(FieldViolation("loan_id", f"must be at most {MAX_LOAN_ID} characters"))
    currency = raw.currency.strip().upper()
    if bad_currency := currency_violation(currency, "amount.currency", as_sent=raw.currency):
        violations.append(bad_currency)
    if raw.amount_minor <= 0:
        violations.append(FieldViolation("amount.amount_minor", "must be positive"))
    elif too_large := amount_violation(raw.amount_minor, "amount.amount_minor"):
        violations.append(too_large)
    value_date = today
    if raw.value_date.strip():
        try:
            # fromisoformat alone also reads "20240101" and week dates.
            value_date = parse_date(raw.value_date, "value_date")
        except InvalidArgument as err:
            violations.extend(err.violations)
        else:
            if value_date > today:
                violations.append(
                    FieldViolation("value_date", f"must not be in the future (today is {today})")
                )
    channel: Channel | None = None
    try:
        channel = Channel(raw.channel.strip().upper())
    except ValueError:
        violations.append(
            FieldViolation("channel", f"must be one of {', '.join(c.value for c in Channel)}")
        )
    reference = raw.external_reference.strip()
    if len(reference) > MAX_REFERENCE:
        violations.append(
            FieldViolation("external_reference", f"must be at most {MAX_REFERENCE} characters")
        )
    note = _clean(raw.note)
    if len(note) > MAX_NOTE:
        violations.append(FieldViolation("note", f"must be at most {MAX_NOTE} characters"))
    if violations or channel is None:
        raise InvalidArgument.fields(violations)
    return PaymentRequest(
        idempotency_key=key,
        loan_id=loan_id,
        amount=Money(raw.amount_minor, currency),
        value_date=value_date,
        channel=channel,
        external_reference=reference,
        note=note,
        fingerprint=fingerprint(raw),
    )


def check_reason(reason: str) -> str:
    return single_line(reason, "reason", MAX_REASON, required=True)


# ------------------------------------------------------------------ receipts


def receipt_number(year: int, sequence: int) -> str:
    """Human receipt number: ``RC-2026-0000123``; the sequence restarts each year."""
    if sequence <= 0:
        raise ValueError("receipt sequences start at 1")
    return f"RC-{year:04d}-{sequence:07d}"


def parse_receipt_number(text: str) -> tuple[int, int]:
    match = _RECEIPT_RE.fullmatch(text)
    if match is None:
        raise InvalidArgument.field("receipt_number", f"is not a receipt number: {text!r}")
    return int(match.group(1)), int(match.group(2))


# ------------------------------------------------------------------ the loan's answer


# Codes with which the loan service refuses a repayment for good. Anything else
# (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED after retries, INTERNAL, an auth
# problem) leaves the outcome open: the payment stays PENDING and is re-driven.
REFUSAL_CODES = frozenset(
    {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "ALREADY_EXISTS", "OUT_OF_RANGE"}
)


def is_refusal(code: str) -> bool:
    return code in REFUSAL_CODES


def error_for(
    code: str,
    message: str,
    existing_id: str | None = None,
    fields: Sequence[FieldViolation] = (),
) -> DomainError:
    """A refusal passed on with the loan service's own code, message and named fields."""
    if code == "NOT_FOUND":
        return NotFound(message)
    if code in ("INVALID_ARGUMENT", "OUT_OF_RANGE"):
        return InvalidArgument(message, violations=fields)
    if code == "ALREADY_EXISTS":
        return AlreadyExists(message, existing_id=existing_id)
    return FailedPrecondition(message)


def refusal_error(
    code: str, reason: str, payment_id: str, fields: Sequence[FieldViolation] = ()
) -> DomainError:
    """The error a REJECTED payment answers with, every time it is asked for."""
    return error_for(code, f"{reason} (payment {payment_id} is REJECTED)", payment_id, fields)


@dataclass(frozen=True, slots=True)
class LoanFacts:
    """What the loan service says about the loan a payment went to."""

    loan_number: str = ""
    borrower_id: str = ""
    borrower_name: str = ""
    agent_id: str = ""
    branch_id: str = ""


@dataclass(frozen=True, slots=True)
class LoanOwner:
    """A loan's agent and branch as loan_service last moved them: payments are scoped by them."""

    agent_id: str
    branch_id: str
    # When loan_service made the change (the event's time), to ignore stale events.
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Applied:
    """The loan service applied the repayment (now or on an earlier attempt)."""

    allocation: Allocation
    loan_transaction_id: str
    recovery: bool
    loan_closed: bool
    loan: LoanFacts
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    reason: str
    # The request fields the loan service named (amount.currency, value_date ...).
    fields: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class Unsettled:
    """No answer that settles anything: try again later."""

    reason: str


ApplyOutcome = Applied | Refused | Unsettled


# ------------------------------------------------------------------ entity


@dataclass(frozen=True, slots=True)
class Reversal:
    reason: str
    reversed_by: str
    reversed_at: datetime
    loan_transaction_id: str
    id: str = ""


@dataclass(frozen=True, slots=True)
class ReversalRequest:
    """An admin asked for a reversal; set until the loan service has answered."""

    reason: str
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    idempotency_key: str
    fingerprint: str
    loan_id: str
    amount: Money
    value_date: date
    channel: Channel
    status: PaymentStatus
    posted_by: str
    poster_role: PosterRole
    created_at: datetime
    updated_at: datetime
    external_reference: str = ""
    note: str = ""
    updated_by: str = ""
    version: int = 1
    loan: LoanFacts = field(default_factory=LoanFacts)
    receipt_number: str = ""
    allocation: Allocation | None = None
    loan_transaction_id: str = ""
    recovery: bool = False
    loan_closed: bool = False
    rejection_reason: str = ""
    rejection_code: str = ""
    rejection_fields: tuple[FieldViolation, ...] = ()
    posted_at: datetime | None = None
    reversal: Reversal | None = None
    reversal_request: ReversalRequest | None = None
    # Work still to do (PENDING, or a reversal asked for) is leased until this time.
    lease_until: datetime | None = None
    attempts: int = 0
    last_error: str = ""

    @property
    def has_receipt(self) -> bool:
        return self.status in (PaymentStatus.POSTED, PaymentStatus.REVERSED)

    def visible_to_agent(self, agent_id: str) -> bool:
        """Agents see payments on their borrowers' loans and the ones they posted."""
        return self.loan.agent_id == agent_id or self.posted_by == agent_id

    def posted(
        self, applied: Applied, receipt: str, now: datetime, actor: str
    ) -> Payment:
        check_transition(self.status, PaymentStatus.POSTED)
        return replace(
            self,
            status=PaymentStatus.POSTED,
            loan=applied.loan,
            receipt_number=receipt,
            allocation=applied.allocation,
            loan_transaction_id=applied.loan_transaction_id,
            recovery=applied.recovery,
            loan_closed=applied.loan_closed,
            posted_at=now,
            updated_at=now,
            updated_by=actor,
            version=self.version + 1,
            lease_until=None,
            last_error="",
        )

    def rejected(self, refusal: Refused, now: datetime, actor: str) -> Payment:
        check_transition(self.status, PaymentStatus.REJECTED)
        return replace(
            self,
            status=PaymentStatus.REJECTED,
            rejection_code=refusal.code,
            rejection_reason=refusal.reason,
            rejection_fields=refusal.fields,
            updated_at=now,
            updated_by=actor,
            version=self.version + 1,
            lease_until=None,
            last_error="",
        )

    def reversal_requested(self, request: ReversalRequest, lease_until: datetime) -> Payment:
        if self.status is PaymentStatus.REVERSED and self.reversal is not None:
            raise FailedPrecondition(
                f"payment {self.id} was already reversed on "
                f"{self.reversal.reversed_at.date().isoformat()}"
            )
        check_transition(self.status, PaymentStatus.REVERSED)
        if self.reversal_request is not None:
            raise FailedPrecondition(
                f"a reversal of payment {self.id} is already in progress "
                f"(asked by {self.reversal_request.requested_by})"
            )
        return replace(
            self,
            reversal_request=request,
            lease_until=lease_until,
            updated_at=request.requested_at,
            updated_by=request.requested_by,
            version=self.version + 1,
        )

    def reversed(self, reversal: Reversal, now: datetime) -> Payment:
        check_transition(self.status, PaymentStatus.REVERSED)
        return replace(
            self,
            status=PaymentStatus.REVERSED,
            reversal=reversal,
            reversal_request=None,
            lease_until=None,
            last_error="",
            updated_at=now,
            updated_by=reversal.reversed_by,
            version=self.version + 1,
        )


def retry_delay_seconds(attempts: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Backoff between re-drives of one payment: 1, 2, 4 ... seconds, at most ``cap``."""
    if attempts <= 0:
        return base
    return float(min(cap, base * 2 ** min(attempts - 1, 30)))
