"""The fault suite's fixtures: one stack of real processes shared by the scenarios that
leave it healthy (``fault_stack``), a fresh one for those that ask (``own_stack``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.resilience.harness import Stack
from tests.resilience.registry import Size


@pytest.fixture(scope="session")
def size() -> Size:
    """Size.fast() (a few hundred repayments); MF_RESILIENCE_FULL=1: the driver's full size."""
    return Size.from_env()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fault_stack(size: Size) -> AsyncIterator[Stack]:
    stack = await Stack.start(extra_env=size.stack_env())
    try:
        yield stack
    finally:
        await stack.close()
