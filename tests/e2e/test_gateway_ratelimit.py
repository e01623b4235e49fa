"""Login rate limiting per client address and per username, and failing open."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.e2e.conftest import Stack, bearer, running_gateway, unique_email

pytestmark = pytest.mark.e2e

LIMIT = 3


def fixed_clock() -> float:
    # A frozen clock, so a minute boundary cannot fall between the attempts; a random
    # window per test keeps the tests' counters apart.
    return 1_900_000_020.0 + (uuid.uuid4().int % 1_000_000) * 60


def fresh_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


async def test_too_many_logins_from_one_address_get_429(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"login_rate_limit_per_minute": LIMIT})
    clock = fixed_clock()
    async with running_gateway(settings, ip=fresh_ip(), clock=lambda: clock) as (_, client):
        for _ in range(LIMIT):
            r = await client.post(
                "/api/v1/auth/login",
                json={"username": unique_email("ghost"), "password": "wrong-password-1"},
            )
            assert r.status_code == 401, r.text
        r = await client.post(
            "/api/v1/auth/login",
            json={"username": stack.admin.email, "password": stack.admin.password},
        )
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert r.json()["error"]["message"].startswith("too many login attempts")


async def test_too_many_logins_for_one_username_get_429_from_any_address(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"login_rate_limit_per_minute": LIMIT})
    clock = fixed_clock()
    target = unique_email("target")
    for attempt in range(LIMIT + 1):
        async with running_gateway(settings, ip=fresh_ip(), clock=lambda: clock) as (_, client):
            r = await client.post(
                "/api/v1/auth/login",
                # The username is matched case-insensitively.
                json={"username": target.upper() if attempt % 2 else target, "password": "x"},
            )
        assert r.status_code == (429 if attempt == LIMIT else 401), (attempt, r.text)


async def test_next_window_allows_again(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"login_rate_limit_per_minute": 1})
    now = [fixed_clock()]
    async with running_gateway(settings, ip=fresh_ip(), clock=lambda: now[0]) as (_, client):
        # 401 means the attempt reached auth_service; 429 means the gateway stopped it.
        body = {"username": unique_email("window"), "password": "wrong-password-1"}
        statuses = []
        for step in range(3):
            if step == 2:
                now[0] += 60
            r = await client.post("/api/v1/auth/login", json=body)
            statuses.append((r.status_code, r.json()["error"]))
        assert [s for s, _ in statuses] == [401, 429, 401], statuses


async def test_fails_open_when_redis_is_down(stack: Stack) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    settings = stack.settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{dead_port}/0",
            "login_rate_limit_per_minute": 1,
        }
    )
    async with running_gateway(settings, ip=fresh_ip()) as (_, client):
        body = {"username": stack.admin.email, "password": stack.admin.password}
        for _ in range(3):
            r = await client.post("/api/v1/auth/login", json=body)
            assert r.status_code == 200, r.text
        r = await client.get("/api/v1/me", headers=bearer(r.json()["access_token"]))
        assert r.status_code == 200, r.text
