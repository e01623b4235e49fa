"""Records (dataclasses) read from anything that carries their fields by name."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypedDict, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class Audited:
    """Who created a stored record and who changed it last, when, and its version.

    The base of every record staff edit (loan products, staff, borrowers): a use case
    builds the next version with ``dataclasses.replace`` and stores it with a
    compare-and-set on ``version``. Keyword-only, so a record's own fields keep their
    places in its constructor.
    """

    created_by: str = ""
    created_at: datetime | None = None
    updated_by: str = ""
    updated_at: datetime | None = None
    version: int = 1


class Created(TypedDict):
    """The audit fields of a record as first stored (keyword arguments of an ``Audited``)."""

    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


def created(actor: str, at: datetime) -> Created:
    """A new record is created, and so last changed, by ``actor`` at ``at``."""
    return Created(created_by=actor, created_at=at, updated_by=actor, updated_at=at)


def record_of(record: type[R], source: object) -> R:
    """``record`` with each of its fields read from the attribute of ``source`` of that name.

    For a record that is the same fields under the same names as a message or another
    record: an address from its message, a loan's labels from the loan message, a token's
    principal from the credential.
    """
    kind: Any = record  # a dataclass type
    return record(**{f.name: getattr(source, f.name) for f in fields(kind)})
