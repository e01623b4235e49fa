"""Logging in, first-login password change, refresh rotation and logout, over HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Login, Stack, bearer, unique_email

pytestmark = pytest.mark.e2e


async def test_new_admin_creates_agent_who_changes_password_and_calls_me(stack: Stack) -> None:
    c = stack.client
    # The admin made by `microfinance create-admin` logs in without a forced change.
    r = await c.post(
        "/api/v1/auth/login", json={"username": stack.admin.email, "password": stack.admin.password}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["must_change_password"] is False
    assert body["identity"]["role"] == "ADMIN"
    assert body["expires_in"] > 0
    assert body["refresh_expires_in"] > body["expires_in"]
    admin = bearer(body["access_token"])

    r = await c.post(
        "/api/v1/staff",
        json={
            "role": "AGENT",
            "full_name": "Amina Field",
            "email": unique_email("Amina.Field"),
            "phone": "+254712345678",
            "branch_id": "NBO-1",
            "initial_password": "first-Login-2026",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    agent = r.json()
    assert r.headers["location"] == f"/api/v1/staff/{agent['id']}"
    assert agent["role"] == "AGENT"
    assert agent["active"] is True
    assert agent["email"] == agent["email"].lower()
    assert agent["audit"]["created_by"] == body["identity"]["staff_id"]
    assert agent["audit"]["created_at"].endswith(("Z", "+00:00"))

    # The agent's first login carries the must-change flag.
    r = await c.post(
        "/api/v1/auth/login", json={"username": agent["email"], "password": "first-Login-2026"}
    )
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["must_change_password"] is True
    assert first["identity"]["agent_id"] == agent["id"]

    # /me is allowed (so a client can see it must ask for a new password) ...
    r = await c.get("/api/v1/me", headers=bearer(first["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["must_change_password"] is True
    assert r.json()["staff"]["id"] == agent["id"]

    # ... a too-short new password is refused, naming the field ...
    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": "first-Login-2026", "new_password": "short"},
        headers=bearer(first["access_token"]),
    )
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["new_password"]

    # ... and a proper change returns fresh tokens without the flag.
    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": "first-Login-2026", "new_password": "a-Much-Better-one-9"},
        headers=bearer(first["access_token"]),
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["must_change_password"] is False
    assert changed["access_token"] != first["access_token"]

    r = await c.get("/api/v1/me", headers=bearer(changed["access_token"]))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["must_change_password"] is False
    assert me["staff"]["email"] == agent["email"]
    assert me["staff"]["role"] == "AGENT"

    # The pre-change access token is denylisted and its refresh family revoked.
    r = await c.get("/api/v1/me", headers=bearer(first["access_token"]))
    assert r.status_code == 401
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    # The old password no longer works; the new one does.
    r = await c.post(
        "/api/v1/auth/login", json={"username": agent["email"], "password": "first-Login-2026"}
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    relog = await stack.login(agent["email"], "a-Much-Better-one-9")
    assert relog.staff_id == agent["id"]


async def test_must_change_password_blocks_everything_else(stack: Stack, admin: Login) -> None:
    c = stack.client
    record, initial = await stack.create_staff(admin, role="ADMIN")
    second_admin = await stack.login(record["email"], initial)

    r = await c.get("/api/v1/staff", headers=second_admin.headers)
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"
    assert "/api/v1/auth/password" in error["message"]

    r = await c.get(f"/api/v1/staff/{record['id']}", headers=second_admin.headers)
    assert r.status_code == 403

    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": initial, "new_password": "second-Admin-pass-1"},
        headers=second_admin.headers,
    )
    assert r.status_code == 200, r.text
    r = await c.get("/api/v1/staff", headers=bearer(r.json()["access_token"]))
    assert r.status_code == 200, r.text


async def test_wrong_old_password_is_refused(stack: Stack, admin: Login) -> None:
    agent = await stack.ready_staff(admin)
    r = await stack.client.post(
        "/api/v1/auth/password",
        json={"old_password": "not-the-password-1", "new_password": "whatever-Else-22"},
        headers=agent.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == "old_password"
    # Nothing changed: the current password still logs in.
    await stack.login(agent.email, agent.password)


async def test_repeated_wrong_old_passwords_lock_out_with_a_documented_429(
    stack: Stack, admin: Login
) -> None:
    agent = await stack.ready_staff(admin)
    statuses = []
    for _ in range(stack.settings.login_max_failures + 1):
        r = await stack.client.post(
            "/api/v1/auth/password",
            json={"old_password": "not-the-password-1", "new_password": "whatever-Else-22"},
            headers=agent.headers,
        )
        statuses.append(r.status_code)
    assert statuses[-1] == 429, statuses
    assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    spec = (await stack.client.get("/openapi.json")).json()
    assert "429" in spec["paths"]["/api/v1/auth/password"]["post"]["responses"]


async def test_refresh_rotates_and_reuse_revokes_the_family(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    session = await stack.login(agent.email, agent.password)

    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": session.refresh_token})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != session.refresh_token
    assert second["identity"]["staff_id"] == agent.staff_id
    r = await c.get("/api/v1/me", headers=bearer(second["access_token"]))
    assert r.status_code == 200

    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 200, r.text
    third = r.json()

    # The first token comes back: someone kept a copy. The whole family dies.
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": session.refresh_token})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert r.status_code == 401

    # Another session of the same agent is a different family and keeps working.
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": agent.refresh_token})
    assert r.status_code == 200, r.text


async def test_reuse_detection_voids_the_access_tokens_of_the_family(
    stack: Stack, admin: Login
) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    victim = await stack.login(agent.email, agent.password)
    # The thief rotates the stolen refresh token first and holds a fresh access token.
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert r.status_code == 200, r.text
    thief = bearer(r.json()["access_token"])
    r = await c.get("/api/v1/me", headers=thief)
    assert r.status_code == 200

    # The victim's refresh with the spent token reveals the theft.
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert r.status_code == 401
    for headers in (thief, victim.headers):
        r = await c.get("/api/v1/me", headers=headers)
        assert r.status_code == 401, r.text
        assert "revoked" in r.json()["error"]["message"]
    # The agent's other session is another family and is untouched.
    r = await c.get("/api/v1/me", headers=agent.headers)
    assert r.status_code == 200, r.text


async def test_the_lockout_says_when_to_try_again(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    lockout = stack.settings.login_lockout_seconds
    for _ in range(stack.settings.login_max_failures):
        r = await c.post(
            "/api/v1/auth/login", json={"username": agent.email, "password": "wrong-Passw0rd"}
        )
        assert r.status_code == 401, r.text
    # Locked now, even with the right password; Retry-After is the lock's remaining time.
    r = await c.post(
        "/api/v1/auth/login", json={"username": agent.email, "password": agent.password}
    )
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert lockout - 60 <= int(r.headers["retry-after"]) <= lockout
    # A stolen session guessing the password meets the same lock, with the same header.
    r = await c.post(
        "/api/v1/auth/password",
        json={"old_password": "guess-Passw0rd", "new_password": "another-Passw0rd-1"},
        headers=agent.headers,
    )
    assert r.status_code == 429, r.text
    assert lockout - 60 <= int(r.headers["retry-after"]) <= lockout


async def test_unknown_refresh_token_is_401(stack: Stack) -> None:
    r = await stack.client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_logout_denylists_the_access_token_and_ends_the_session(
    stack: Stack, admin: Login
) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    session = await stack.login(agent.email, agent.password)
    r = await c.get("/api/v1/me", headers=session.headers)
    assert r.status_code == 200

    r = await c.post(
        "/api/v1/auth/logout",
        json={"refresh_token": session.refresh_token},
        headers=session.headers,
    )
    assert r.status_code == 204, r.text
    assert r.content == b""

    r = await c.get("/api/v1/me", headers=session.headers)
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": session.refresh_token})
    assert r.status_code == 401
    # Logging out again with the dead token is refused at the edge.
    r = await c.post("/api/v1/auth/logout", headers=session.headers)
    assert r.status_code == 401

    # The agent's other session (from ready_staff) was not part of this logout.
    r = await c.get("/api/v1/me", headers=agent.headers)
    assert r.status_code == 200


async def test_logout_everywhere_without_a_body(stack: Stack, admin: Login) -> None:
    c = stack.client
    agent = await stack.ready_staff(admin)
    other = await stack.login(agent.email, agent.password)

    r = await c.post("/api/v1/auth/logout", json={"all_sessions": True}, headers=agent.headers)
    assert r.status_code == 204, r.text
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert r.status_code == 401
    # The other session's access token is void too, not only its refresh token.
    r = await c.get("/api/v1/me", headers=other.headers)
    assert r.status_code == 401

    # A body is optional: this only denylists the access token sent.
    later = await stack.login(agent.email, agent.password)
    r = await c.post("/api/v1/auth/logout", headers=later.headers)
    assert r.status_code == 204, r.text
    r = await c.get("/api/v1/me", headers=later.headers)
    assert r.status_code == 401


async def test_bad_credentials_and_deactivated_staff(stack: Stack, admin: Login) -> None:
    c = stack.client
    r = await c.post(
        "/api/v1/auth/login",
        json={"username": unique_email("nobody"), "password": "whatever-password"},
    )
    assert r.status_code == 401
    unknown_message = r.json()["error"]["message"]

    agent = await stack.ready_staff(admin)
    r = await c.post(
        "/api/v1/auth/login", json={"username": agent.email, "password": "wrong-password-1"}
    )
    assert r.status_code == 401
    # The same answer whether or not the user exists.
    assert r.json()["error"]["message"] == unknown_message

    r = await c.post(
        f"/api/v1/staff/{agent.staff_id}/deactivate",
        json={"reason": "left the company"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    r = await c.post(
        "/api/v1/auth/login", json={"username": agent.email, "password": agent.password}
    )
    assert r.status_code == 401
    r = await c.post("/api/v1/auth/refresh", json={"refresh_token": agent.refresh_token})
    assert r.status_code == 401
