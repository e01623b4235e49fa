"""The local revocation marks: expiry with their TTLs, and the newest cutoff wins."""

from __future__ import annotations

from shared.revocation import (
    DENYLIST_PREFIX,
    REVOKED_BEFORE_PREFIX,
    REVOKED_FAMILY_PREFIX,
    Marks,
)


def test_marks_refuse_until_their_ttl_then_are_purged() -> None:
    marks = Marks()
    marks.apply(DENYLIST_PREFIX + "j1", "1", 10, now=0)
    marks.apply(REVOKED_FAMILY_PREFIX + "f1", "logout", 20, now=0)
    marks.apply(REVOKED_BEFORE_PREFIX + "s1", "5000", 30, now=0)
    assert marks.revoked("j1", "s2", "", 0, now=9)
    assert marks.revoked("j2", "s2", "f1", 0, now=19)
    assert marks.revoked("j2", "s1", "", 4999, now=29)
    assert not marks.revoked("j2", "s1", "", 5000, now=29)  # issued at the cutoff: kept
    assert not marks.revoked("j1", "s2", "", 0, now=10)
    assert not marks.revoked("j2", "s2", "f1", 0, now=20)
    assert not marks.revoked("j2", "s1", "", 0, now=30)
    marks.purge(now=15)
    assert len(marks) == 2
    marks.purge(now=30)
    assert len(marks) == 0


def test_the_newest_cutoff_wins_in_any_order() -> None:
    marks = Marks()
    marks.apply(REVOKED_BEFORE_PREFIX + "s1", "9000", 30, now=0)
    marks.apply(REVOKED_BEFORE_PREFIX + "s1", "5000", 10, now=0)  # an older one, late
    assert marks.revoked("j", "s1", "", 8999, now=20)


def test_missing_values_and_spent_ttls_are_ignored() -> None:
    marks = Marks()
    marks.apply(DENYLIST_PREFIX + "j1", None, 10, now=0)
    marks.apply(DENYLIST_PREFIX + "j2", "1", 0, now=0)
    marks.apply("mf:other:key", "1", 10, now=0)
    assert len(marks) == 0
