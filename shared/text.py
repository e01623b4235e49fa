"""Free-text fields as every service stores them (no third-party imports: domains use it)."""

from __future__ import annotations

from shared.errors import InvalidArgument


def single_line(value: str, field: str, max_length: int, *, required: bool) -> str:
    """Runs of whitespace folded to one space; refused when longer than ``max_length``
    characters, or when empty and ``required``."""
    text = " ".join(value.split())
    if required and not text:
        raise InvalidArgument.field(field, "is required")
    if len(text) > max_length:
        raise InvalidArgument.field(field, f"must be at most {max_length} characters")
    return text
