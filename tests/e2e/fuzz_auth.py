"""Schemathesis hooks module (``SCHEMATHESIS_HOOKS=tests.e2e.fuzz_auth``): logs in as
``MF_FUZZ_EMAIL`` / ``MF_FUZZ_PASSWORD`` at ``MF_FUZZ_BASE_URL``.

A fixed token would not last the run: the fuzzer calls ``POST /auth/logout`` with it,
which revokes it, and every later request would be a 401 that tests nothing.
Schemathesis drops the cached token on a 401 and this logs in again. An admin run may
also change the admin's own email (``PATCH /staff/{id}``): the next login follows it.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

ACCOUNT: dict[str, str] = {}


def account() -> dict[str, str]:
    if not ACCOUNT:
        ACCOUNT.update(
            base_url=os.environ["MF_FUZZ_BASE_URL"],
            email=os.environ["MF_FUZZ_EMAIL"],
            password=os.environ["MF_FUZZ_PASSWORD"],
            staff_id="",
        )
    return ACCOUNT


@schemathesis.auth(refresh_interval=600)
class StaffLogin:
    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> str:
        me = account()
        r = requests.post(
            f"{me['base_url']}/api/v1/auth/login",
            json={"username": me["email"], "password": me["password"]},
            timeout=20,
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        me["staff_id"] = body["identity"]["staff_id"]
        token: str = body["access_token"]
        return token

    def set(self, case: schemathesis.Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    me = account()
    if (
        case.method.upper() == "PATCH"
        and case.path == "/api/v1/staff/{staff_id}"
        and response.status_code == 200
    ):
        body = response.json()
        if isinstance(body, dict) and body.get("id") == me["staff_id"] and body.get("email"):
            me["email"] = body["email"]
