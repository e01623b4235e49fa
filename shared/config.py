"""Settings for every process, read from ``MF_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Well known on purpose; production refuses it.
DEV_SERVICE_SECRET = "dev-only-service-secret-never-use-in-production"  # noqa: S105


def clock_time(value: str) -> str:
    """A local time of day ``HH:MM`` (empty stays empty); ValueError otherwise."""
    text = value.strip()
    if not text:
        return ""
    hour, _, minute = text.partition(":")
    if not (
        hour.isdigit()
        and minute.isdigit()
        and len(minute) == 2
        and 0 <= int(hour) <= 23
        and 0 <= int(minute) <= 59
    ):
        raise ValueError(f"{value!r} is not a local time HH:MM such as '23:30'")
    return f"{int(hour):02d}:{minute}"


# Schemes gRPC's core resolves itself; an address starting with one is a target URI.
TARGET_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:", "xds:")


def split_addresses(addr: str) -> list[str]:
    """The ``host:port`` entries of an address setting: a comma-separated list, or a
    literal ``ipv4:``/``ipv6:`` list; any other target URI (``dns:///loan:50053``) is one
    entry, as it is."""
    text = addr.strip()
    for scheme in ("ipv4:", "ipv6:"):
        if text.startswith(scheme):
            text = text[len(scheme):]
            break
    else:
        if text.startswith(TARGET_SCHEMES) or "://" in text:
            return [text]
    return [part.strip() for part in text.split(",") if part.strip()]


def address_list(value: str) -> str:
    """An address setting checked and tidied (``a:1, b:2`` -> ``a:1,b:2``); ValueError
    for an entry of a list without a port (one address alone is gRPC's to read)."""
    text = value.strip()
    if not text or text.startswith(TARGET_SCHEMES) or "://" in text:
        return text
    entries = split_addresses(text)
    if len(entries) == 1:
        return entries[0]
    for entry in entries:
        host, sep, port = entry.rpartition(":")
        if not (sep and host and port.isdigit()):
            raise ValueError(
                f"{entry!r} is not host:port; give host:port, a comma-separated list of "
                "them, or a gRPC target such as dns:///loan:50053"
            )
    return ",".join(entries)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MF_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"

    mongo_url: str | None = None
    mongo_db: str = "microfinance"
    # How long a service's MongoDB work outside a request (consumers, the outbox relay,
    # recovery loops) waits for a server (selection, connect) before failing and retrying.
    # A request's own operations are bounded by its deadline instead (shared/grpc/interceptors).
    mongo_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prepended to every Redis key, so deployments (or test runs) can share a server.
    redis_key_prefix: str = ""
    es_url: str | None = None
    es_index_prefix: str = "mf"
    # Keep it below grpc_deadline_seconds, so a slow cluster answers UNAVAILABLE
    # ("search is temporarily unavailable") rather than the caller's DEADLINE_EXCEEDED.
    es_request_timeout_seconds: float = 5.0
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    amqp_exchange: str = "microfinance.events"
    # The type of the queues (and dead-letter queues) the consumers declare: classic, or
    # quorum (replicated, for a RabbitMQ cluster; compose sets it). An existing queue keeps
    # its type: switching needs a migration (docs/operations.md#at-scale).
    amqp_queue_type: Literal["classic", "quorum"] = "classic"

    data_dir: Path = Path(".microfinance")
    log_level: str = "INFO"
    log_json: bool = True
    # The event loop every serving process runs on (shared/eventloop.py): uvloop, or the
    # standard library's, e.g. to rule uvloop out when chasing a bug.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Once wired, a serving process freezes its heap out of the cyclic collector and
    # collects its youngest generation every this many allocations (shared/heap.py);
    # 0 leaves CPython's collector as it is.
    gc_gen0_threshold: int = Field(default=10_000, ge=0)
    # OpenTelemetry tracing (shared/tracing.py): "otlp" exports spans as the standard
    # OTEL_* variables say (OTEL_EXPORTER_OTLP_ENDPOINT...), "console" prints them to
    # stderr; both need the tracing extra. "off" costs nothing.
    tracing: Literal["off", "otlp", "console"] = "off"

    grpc_host: str = "127.0.0.1"
    # Address the servers bind; compose sets 0.0.0.0.
    bind_host: str = "127.0.0.1"
    auth_port: int = 50051
    user_port: int = 50052
    loan_port: int = 50053
    payment_port: int = 50054
    reporting_port: int = 50055
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    # Where clients reach each service: host:port, a comma-separated list of them (one per
    # replica), or a gRPC target URI such as dns:///loan:50053 (a name resolving to every
    # replica); calls are balanced round-robin over all of them (shared/grpc/client.py).
    # Empty means "same host, the service's port".
    auth_addr: str = ""
    user_addr: str = ""
    loan_addr: str = ""
    payment_addr: str = ""
    reporting_addr: str = ""

    # Prometheus /metrics of this process on its own small HTTP port (0: none); every
    # process needs its own (`microfinance up` assigns them). Loopback unless opened up:
    # the figures name routes, volumes and backlogs, so only the scraper should read them.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # How often the gauges that cost a query (outbox backlog, end of day, payments
    # awaiting recovery) are refreshed, on the process' loop.
    metrics_sample_seconds: float = Field(default=10.0, gt=0)

    grpc_deadline_seconds: float = 5.0
    shutdown_grace_seconds: float = 10.0

    # Auth. Key material lives in the auth service's data dir unless given.
    jwt_private_key_file: Path | None = None
    jwt_issuer: str = "microfinance-auth"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    public_key_cache_seconds: int = 300
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900
    login_rate_limit_per_minute: int = 20

    # Shared by the services only: with it a service obtains a SERVICE token for its own
    # background work (payment recovery, end of day). Required in production.
    service_token_secret: SecretStr | None = None
    service_token_ttl_seconds: int = 300

    # Region used to read phone numbers written without a country code (e.g. "KE").
    default_phone_region: str | None = None
    # The institution's IANA time zone (e.g. "Africa/Nairobi"): "today" for value dates,
    # due dates, DPD and ages is the date there, not in UTC.
    business_timezone: str = "UTC"

    cors_origins: list[str] = Field(default_factory=list)

    # payment_service. Printed on receipts:
    institution_name: str = "Microfinance Institution"
    institution_address: str = ""
    institution_phone: str = ""
    # A PENDING payment (or a requested reversal) belongs to whoever holds its lease;
    # when the lease runs out (the process died) the recovery loop takes it over.
    payment_lease_seconds: float = 30.0
    # Longest wait between two re-drives of one payment (backoff 1, 2, 4 ... seconds).
    payment_retry_max_seconds: float = 60.0
    payment_recovery_interval_seconds: float = 2.0
    payment_recovery_batch: int = 100
    # How long a repeated request waits for the first one with the same key to settle
    # (keep it under the gateway's gRPC deadline).
    payment_replay_wait_seconds: float = 3.0
    # The recovery loop refuses an agent's PENDING payment whose loan now belongs to
    # another agent only once it is this old: a live call that timed out at the caller may
    # still be applying it at the loan service. Keep it well above the gRPC deadline.
    payment_scope_grace_seconds: float = 60.0
    # Receipt numbers each process reserves from the per-year counter with one write;
    # the unused rest of a block is skipped when the process stops (unique, not gap-free).
    payment_receipt_block: int = Field(default=100, ge=1, le=10_000)
    # Test only (honoured when env is "test"): stop the posting flow for good at this
    # point, so a test can kill the process between two steps.
    payment_test_pause: Literal["", "after_pending", "after_apply"] = ""

    # The largest amount (minor units) one request may carry: a payment, a principal, a fee.
    # It keeps every stored or reported sum exact and inside int64; at most 10^15.
    max_amount_minor: int = Field(default=10**12, ge=1, le=10**15)

    # reporting_service: how long a report is cached. A closed date's report never
    # changes (a revised snapshot changes the key), so long; a range reaching today, short.
    report_cache_closed_seconds: int = 86400
    report_cache_open_seconds: int = 60

    # End of day (loan_service). Loans per batch (one transaction each), batches in flight.
    eod_batch_size: int = Field(default=500, ge=1, le=5000)
    eod_concurrency: int = Field(default=4, ge=1, le=64)
    # The run belongs to whoever holds this lease; a replica that died loses it this soon.
    eod_lease_seconds: float = Field(default=30.0, gt=0)
    # A failing run is retried on each worker pass (every 2 s) and given up after this many
    # failures (its last error stays in the status' failed_run until the next run).
    eod_give_up_after_failures: int = Field(default=5, ge=1, le=1000)
    # Local time (HH:MM, in business_timezone) at which loan_service closes the day by
    # itself, catching up any missed date; empty: never (run `microfinance eod`).
    eod_at: str = ""
    # Test only (honoured when env is "test"): stop for good after this many batches, so
    # a test can kill the process mid-run.
    eod_test_pause_after_batches: int = 0

    admin_email: str | None = None
    admin_password: SecretStr | None = None

    @field_validator("business_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone such as 'Africa/Nairobi' or 'UTC'"
            ) from None
        return value

    @field_validator("auth_addr", "user_addr", "loan_addr", "payment_addr", "reporting_addr")
    @classmethod
    def _addresses(cls, value: str) -> str:
        return address_list(value)

    @field_validator("eod_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        return clock_time(value)

    def business_tz(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @model_validator(mode="after")
    def _secrets_in_production(self) -> Settings:
        if self.service_token_secret is None:
            if self.env == "production":
                raise ValueError("MF_SERVICE_TOKEN_SECRET must be set in production")
            # Outside production every local process shares this well-known value.
            self.service_token_secret = SecretStr(DEV_SERVICE_SECRET)
        elif self.env == "production" and (
            len(self.service_token_secret.get_secret_value()) < 32
            or self.service_token_secret.get_secret_value() == DEV_SERVICE_SECRET
        ):
            raise ValueError("MF_SERVICE_TOKEN_SECRET must be at least 32 random characters")
        return self

    @model_validator(mode="after")
    def _fill_addresses(self) -> Settings:
        for name in ("auth", "user", "loan", "payment", "reporting"):
            if not getattr(self, f"{name}_addr"):
                setattr(self, f"{name}_addr", f"{self.grpc_host}:{getattr(self, f'{name}_port')}")
        return self

    def port_for(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def mongo_url_or_default(self) -> str:
        return self.mongo_url or "mongodb://127.0.0.1:27018/?directConnection=true"

    def es_url_or_default(self) -> str:
        return self.es_url or "http://127.0.0.1:9201"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

