"""Auth costs that every request or login pays: token verification and password hashing.

Prints figures; asserts nothing about speed.

    python bench/bench_auth.py [--verifications 20000] [--logins 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from auth_service.domain.keys import SigningKey
from auth_service.domain.passwords import PasswordHashing
from auth_service.domain.tokens import Principal, issue_access_token
from shared.tokens import JwksKeyCache, TokenVerifier


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def verification(count: int) -> None:
    key = SigningKey.generate(datetime.now(UTC))

    async def fetch() -> list[dict[str, Any]]:
        return [key.jwk()]

    verifier = TokenVerifier(JwksKeyCache(fetch), issuer="bench")
    principal = Principal("s1", "a@b.org", "AGENT", "BR1", must_change_password=False)
    token = issue_access_token(
        principal, key, issuer="bench", now=datetime.now(UTC), ttl_seconds=900
    ).token
    await verifier.verify(token)  # warm the key cache
    started = time.perf_counter()
    for _ in range(count):
        await verifier.verify(token)
    elapsed = time.perf_counter() - started
    print(
        f"token verification (EdDSA, no Redis): {count / elapsed:,.0f}/s on one core, "
        f"{elapsed / count * 1e6:.1f} µs each"
    )
    started = time.perf_counter()
    for _ in range(count // 10):
        issue_access_token(principal, key, issuer="bench", now=datetime.now(UTC), ttl_seconds=900)
    elapsed = time.perf_counter() - started
    print(f"token issuing: {count // 10 / elapsed:,.0f}/s on one core")


def hashing(logins: int) -> None:
    hasher = PasswordHashing()
    stored = hasher.hash("correct horse battery staple")
    times: list[float] = []
    for _ in range(logins):
        started = time.perf_counter()
        hasher.verify(stored, "correct horse battery staple")
        times.append((time.perf_counter() - started) * 1000)
    dummy: list[float] = []
    for _ in range(logins):
        started = time.perf_counter()
        hasher.verify_dummy("whatever password")
        dummy.append((time.perf_counter() - started) * 1000)
    print(
        f"argon2id verify (t=3, m=64 MiB, p=4): p50 {statistics.median(times):.1f} ms, "
        f"p99 {percentile(times, 99):.1f} ms; unknown-user dummy verify p50 "
        f"{statistics.median(dummy):.1f} ms (same cost by design)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verifications", type=int, default=20_000)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(verification(args.verifications))
    hashing(args.logins)


if __name__ == "__main__":
    main()
