"""Receipt sequences come from the per-year counter a block at a time, against a real MongoDB.

One write reserves a block for one process (one repository); its numbers are
handed out in order under a lock. Numbers are unique per year across processes
sharing the counter, increase within a process, and a block left unused (a
restart) leaves a gap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from payment_service.adapters.payment_repository import COUNTERS, PaymentRepository

pytestmark = pytest.mark.integration


async def counter(db: Any, year: int) -> int:
    doc = await db[COUNTERS].find_one({"_id": f"receipt-{year}"})
    return int(doc["seq"]) if doc else 0


async def test_concurrent_postings_get_unique_numbers_from_few_reservations(mongo_db: Any) -> None:
    repo = PaymentRepository(mongo_db, receipt_block=10)
    numbers = await asyncio.gather(*(repo.next_receipt_sequence(2026) for _ in range(95)))
    assert sorted(numbers) == list(range(1, 96))
    # Handed out in the order asked: the lock is first come, first served.
    assert numbers == sorted(numbers)
    # Ten reservations of ten, not 95 writes.
    assert await counter(mongo_db, 2026) == 100


async def test_two_processes_sharing_the_counter_never_hand_out_the_same_number(
    mongo_db: Any,
) -> None:
    first = PaymentRepository(mongo_db, receipt_block=7)
    second = PaymentRepository(mongo_db, receipt_block=5)

    async def take(repo: PaymentRepository, n: int) -> list[int]:
        got = []
        for _ in range(n):
            got.append(await repo.next_receipt_sequence(2026))
        return got

    runs = await asyncio.gather(
        *(take(first, 20) for _ in range(3)), *(take(second, 20) for _ in range(3))
    )
    everything = [n for run in runs for n in run]
    assert len(everything) == len(set(everything)) == 120
    # Within one process the numbers only go up.
    for run in runs:
        assert run == sorted(run)
    assert max(everything) <= await counter(mongo_db, 2026)


async def test_a_new_year_starts_its_own_counter(mongo_db: Any) -> None:
    repo = PaymentRepository(mongo_db, receipt_block=50)
    assert [await repo.next_receipt_sequence(2026) for _ in range(3)] == [1, 2, 3]
    assert await repo.next_receipt_sequence(2027) == 1
    assert await repo.next_receipt_sequence(2027) == 2
    assert (await counter(mongo_db, 2026), await counter(mongo_db, 2027)) == (50, 50)


async def test_a_restarted_process_skips_the_rest_of_its_block(mongo_db: Any) -> None:
    before = PaymentRepository(mongo_db, receipt_block=10)
    assert [await before.next_receipt_sequence(2026) for _ in range(3)] == [1, 2, 3]
    after = PaymentRepository(mongo_db, receipt_block=10)
    # 4 to 10 were reserved by the process that stopped: unique, not gap-free.
    assert await after.next_receipt_sequence(2026) == 11


async def test_a_block_of_one_is_the_plain_counter(mongo_db: Any) -> None:
    repo = PaymentRepository(mongo_db, receipt_block=1)
    assert [await repo.next_receipt_sequence(2026) for _ in range(3)] == [1, 2, 3]
    assert await counter(mongo_db, 2026) == 3
    with pytest.raises(ValueError, match="at least one"):
        PaymentRepository(mongo_db, receipt_block=0)
