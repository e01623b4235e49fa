"""Records (dataclasses) read from anything that carries their fields by name."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

R = TypeVar("R")


def record_of(record: type[R], source: object) -> R:
    """``record`` with each of its fields read from the attribute of ``source`` of that name.

    For a record that is the same fields under the same names as a message or another
    record: an address from its message, a loan's labels from the loan message, a token's
    principal from the credential.
    """
    kind: Any = record  # a dataclass type
    return record(**{f.name: getattr(source, f.name) for f in fields(kind)})
