"""Who is calling: the verified identity every use case receives."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    AGENT = "AGENT"
    # A service acting for itself (background work); never a person.
    SERVICE = "SERVICE"


STAFF_ROLES = frozenset({Role.ADMIN, Role.AGENT})


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified caller. ``token`` is the raw bearer token, kept only to pass
    on to the next service so it can verify the caller itself."""

    subject: str
    role: Role
    token_id: str = ""
    agent_id: str = ""
    branch_id: str = ""
    must_change_password: bool = False
    expires_at: int = 0
    issued_at: int = 0
    key_id: str = ""
    token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_agent(self) -> bool:
        return self.role is Role.AGENT

    @property
    def is_service(self) -> bool:
        return self.role is Role.SERVICE

    @property
    def acting_agent_id(self) -> str:
        """The agent id an AGENT caller acts as (the token's agent_id, else their staff id)."""
        return self.agent_id or self.subject


caller_var: ContextVar[Caller | None] = ContextVar("caller", default=None)


def current_caller() -> Caller:
    caller = caller_var.get()
    if caller is None:
        # The interceptor always sets it for protected RPCs; reaching here is a wiring bug.
        raise RuntimeError("no authenticated caller in context")
    return caller
