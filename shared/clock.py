"""The time of day, and the business date it falls on.

Use cases take a ``clock`` (``utcnow`` by default) so tests can pin time; the
business date is the calendar date in the institution's time zone, never UTC's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, at the millisecond precision BSON stores, so a written value reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def business_date(moment: datetime, timezone: ZoneInfo | None = None) -> date:
    """The calendar date of ``moment`` in the institution's time zone (UTC if none)."""
    return moment.astimezone(timezone).date() if timezone is not None else moment.date()


__all__ = ["business_date", "utcnow"]
