"""No password, hash or token reaches the logs, through a whole flow across the stack."""

from __future__ import annotations

import logging

import pytest

from tests.e2e.conftest import Stack, bearer

pytestmark = pytest.mark.e2e


async def test_no_secret_in_captured_logs(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name in ("microfinance", "api_gateway", "auth_service", "user_service", "shared"):
        caplog.set_level(logging.DEBUG, logger=name)
    c = stack.client
    secrets: list[str] = [stack.admin.password]

    admin = await stack.admin_login()
    secrets += [admin.access_token, admin.refresh_token]
    record, initial = await stack.create_staff(admin, initial_password="initial-Secret-4242")
    secrets.append(initial)
    agent = await stack.login(record["email"], initial)
    secrets += [agent.access_token, agent.refresh_token]
    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": initial, "new_password": "brand-New-Secret-77"},
        headers=agent.headers,
    )
    secrets.append("brand-New-Secret-77")
    changed = r.json()
    secrets += [changed["access_token"], changed["refresh_token"]]
    # Failures log too: a wrong password, a bad token, a policy violation, a reuse.
    r = await c.post(
        "/api/v1/auth/login", json={"username": record["email"], "password": "Wrong-Guess-123"}
    )
    assert r.status_code == 401
    secrets.append("Wrong-Guess-123")
    r = await c.get("/api/v1/me", headers=bearer(agent.access_token))
    assert r.status_code == 401
    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": "brand-New-Secret-77", "new_password": "tiny"},
        headers=bearer(changed["access_token"]),
    )
    assert r.status_code == 422
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": agent.refresh_token})
    assert r.status_code == 401
    r = await c.post(
        "/api/v1/auth/logout",
        json={"refresh_token": changed["refresh_token"]},
        headers=bearer(changed["access_token"]),
    )
    assert r.status_code == 204

    assert caplog.records, "the flow should have logged something"
    dumped = "\n".join(
        [caplog.text]
        + [str(vars(record)) for record in caplog.records]  # extras, args, everything
    )
    for secret in secrets:
        assert secret not in dumped
    for fragment in ("$argon2", "eyJ"):
        assert fragment not in dumped
    # The gateway did log the requests it served, with their ids.
    access = [r for r in caplog.records if r.name == "microfinance.gateway.access"]
    assert any(getattr(r, "path", "") == "/api/v1/auth/password" for r in access)
