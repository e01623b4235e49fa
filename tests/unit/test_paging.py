"""Page tokens: opaque offsets that round-trip, and forged ones are the caller's mistake."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidArgument
from shared.paging import MAX_OFFSET, decode_token, encode_token


@given(st.integers(min_value=0, max_value=MAX_OFFSET))
def test_tokens_round_trip(offset: int) -> None:
    assert decode_token(encode_token(offset)) == offset


def forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": value}).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [forged(10**23), forged(MAX_OFFSET + 1), forged(-1), forged(True), forged("3"), "%%%", "e30"],
)
def test_forged_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        decode_token(token)
    assert err.value.violations[0].field == "page.page_token"
