"""The six processes of the suite, in one table that `up`, `service` and `health` share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shared.config import Settings


@dataclass(frozen=True)
class ServiceDef:
    name: str  # the short name the CLI takes: auth, user, loan, payment, reporting, gateway
    package: str  # the importable package: `python -m <package>` runs it
    kind: Literal["grpc", "http"]
    port_setting: str  # the Settings attribute holding its port

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.port_setting))

    def grpc_addr(self, settings: Settings) -> str:
        """Where clients reach it: the configured `MF_<NAME>_ADDR` (host:port)."""
        if self.kind != "grpc":
            raise ValueError(f"{self.name} does not serve gRPC")
        return str(getattr(settings, f"{self.name}_addr"))

    def http_url(self, settings: Settings, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port(settings)}"


# Start order: the auth service first, since the others fetch its public key; gateway last.
SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("auth", "auth_service", "grpc", "auth_port"),
    ServiceDef("user", "user_service", "grpc", "user_port"),
    ServiceDef("loan", "loan_service", "grpc", "loan_port"),
    ServiceDef("payment", "payment_service", "grpc", "payment_port"),
    ServiceDef("reporting", "reporting_service", "grpc", "reporting_port"),
    ServiceDef("gateway", "api_gateway", "http", "gateway_port"),
)

SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)

# Packages that own data and therefore may ship `<package>/migrations.py`.
MIGRATING_PACKAGES: tuple[str, ...] = tuple(s.package for s in SERVICES if s.kind == "grpc")


def get_service(name: str) -> ServiceDef:
    for svc in SERVICES:
        if svc.name == name or svc.package == name:
            return svc
    raise KeyError(f"unknown service {name!r}; choose one of: {', '.join(SERVICE_NAMES)}")
