from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth_service.domain.passwords import PasswordHashing, check_policy
from shared.errors import InvalidArgument

FAST = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def test_policy_rejects_short_passwords() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_policy("short", "user@example.org")
    assert err.value.violations[0].field == "password"


def test_policy_rejects_the_username() -> None:
    with pytest.raises(InvalidArgument, match="username"):
        check_policy("Agent.One@Example.org", "agent.one@example.org")
    with pytest.raises(InvalidArgument, match="username"):
        check_policy("agentnumberone", "agentnumberone@example.org")


@given(st.text(min_size=10, max_size=40).filter(lambda p: p.strip().casefold() != "someone"))
def test_policy_accepts_long_enough_passwords(password: str) -> None:
    check_policy(password, "someone@example.org")


def test_hashes_are_argon2id_and_verify() -> None:
    hashing = PasswordHashing(**FAST)
    stored = hashing.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert hashing.verify(stored, "correct horse battery")
    assert not hashing.verify(stored, "wrong horse battery")
    assert not hashing.verify("not-a-hash", "anything")


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_dummy_verification_never_succeeds(password: str) -> None:
    hashing = PasswordHashing(**FAST)
    assert hashing.verify_dummy(password) is False
    assert hashing.dummy_verifications == 1
