"""The domain error hierarchy: plain exceptions and field violations.

Domain code raises these; the servicer layer never chooses a status code by
hand. The one mapping to and from gRPC status codes lives in
``shared.grpc.status``, so this module (and every domain package that imports
it) needs nothing beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a client is meant to see."""

    def __init__(self, message: str, *, violations: Iterable[FieldViolation] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations: tuple[FieldViolation, ...] = tuple(violations)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DomainError):
    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        return cls(f"{field}: {description}", violations=[FieldViolation(field, description)])

    @classmethod
    def fields(cls, violations: Sequence[FieldViolation]) -> InvalidArgument:
        text = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(text, violations=violations)


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    def __init__(
        self,
        message: str,
        *,
        violations: Iterable[FieldViolation] = (),
        existing_id: str | None = None,
    ) -> None:
        super().__init__(message, violations=violations)
        self.existing_id = existing_id


class FailedPrecondition(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class Conflict(DomainError):
    """A concurrency conflict; safe for the client to retry."""


class Unavailable(DomainError):
    pass


class ResourceExhausted(DomainError):
    """Too many attempts; ``retry_after_seconds``, when known, travels as google.rpc.RetryInfo
    and leaves the gateway as Retry-After."""

    def __init__(
        self,
        message: str,
        *,
        violations: Iterable[FieldViolation] = (),
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message, violations=violations)
        self.retry_after_seconds = retry_after_seconds


def field_violations_of(err: DomainError) -> list[dict[str, str]]:
    return [{"field": v.field, "description": v.description} for v in err.violations]


__all__ = [
    "AlreadyExists",
    "Conflict",
    "DomainError",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "field_violations_of",
]
