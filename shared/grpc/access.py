"""The declarative table of who may call which RPC."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.identity import STAFF_ROLES, Role


@dataclass(frozen=True, slots=True)
class Access:
    """``roles is None`` means no token is needed at all."""

    roles: frozenset[Role] | None
    # RPCs a user who still has to change their first password may call.
    allowed_before_password_change: bool = False

    @property
    def public(self) -> bool:
        return self.roles is None


PUBLIC = Access(None)
ANY_STAFF = Access(STAFF_ROLES)
ADMIN_ONLY = Access(frozenset({Role.ADMIN}))
AGENT_ONLY = Access(frozenset({Role.AGENT}))
SELF_SERVICE = Access(STAFF_ROLES, allowed_before_password_change=True)
# Staff, and services doing background work for themselves (recovery loops, end of day).
ANY_STAFF_OR_SERVICE = Access(STAFF_ROLES | {Role.SERVICE})
# Calls no person may make directly: money enters or leaves a loan only through payment_service,
# which keeps the payment record, the receipt and the cash summary that go with it.
SERVICE_ONLY = Access(frozenset({Role.SERVICE}))
# Admins, and services acting for themselves (end of day: the CLI and the schedule).
ADMIN_OR_SERVICE = Access(frozenset({Role.ADMIN, Role.SERVICE}))

# Health and reflection must answer load balancers and tooling without a token.
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def access_table(service_full_name: str, rules: Mapping[str, Access]) -> dict[str, Access]:
    return {f"/{service_full_name}/{method}": access for method, access in rules.items()}


def merge_tables(tables: Iterable[Mapping[str, Access]]) -> dict[str, Access]:
    merged: dict[str, Access] = {}
    for table in tables:
        merged.update(table)
    return merged
