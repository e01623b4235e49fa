"""Paging and ordering for List RPCs: opaque offset tokens and checked order_by."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    size: int
    sort: list[tuple[str, int]]

    def next_token(self, returned: int, total: int) -> str:
        end = self.offset + returned
        return encode_token(end) if returned == self.size and end < total else ""


MAX_OFFSET = 2**31 - 1


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidArgument.field("page.page_token", "is not a valid page token") from exc
    # Bounded: a forged huge offset would overflow the database's skip (a 500, not a 422).
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidArgument.field("page.page_token", "is not a valid page token")
    return offset


def _quoted(text: str, limit: int = 40) -> str:
    """The caller's text in a message, cut short: a status message travels in gRPC metadata,
    and an echo of a long input would push the answer past the caller's metadata limit."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_order_by(
    order_by: str, allowed: Mapping[str, str], default: Sequence[tuple[str, int]]
) -> list[tuple[str, int]]:
    """``"created_at desc, name"`` -> Mongo sort; ``allowed`` maps API names to stored fields."""
    if not order_by.strip():
        return list(default)
    sort: list[tuple[str, int]] = []
    for part in order_by.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or (len(words) == 2 and words[1].lower() not in {"asc", "desc"})
        ):
            raise InvalidArgument.field("page.order_by", f"cannot parse {_quoted(part.strip())}")
        name = words[0]
        if name not in allowed:
            raise InvalidArgument.field(
                "page.order_by",
                f"unknown field {_quoted(name)}; allowed: {', '.join(sorted(allowed))}",
            )
        direction = -1 if len(words) == 2 and words[1].lower() == "desc" else 1
        sort.append((allowed[name], direction))
    # A unique tiebreaker keeps pages stable.
    if all(field != "_id" for field, _ in sort):
        sort.append(("_id", 1))
    return sort


def page_of(
    page_size: int,
    page_token: str,
    order_by: str,
    allowed: Mapping[str, str],
    default: Sequence[tuple[str, int]],
) -> Page:
    if page_size < 0:
        raise InvalidArgument.field("page.page_size", "must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return Page(decode_token(page_token), size, parse_order_by(order_by, allowed, default))
