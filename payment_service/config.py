"""payment_service's own settings (``MF_*`` variables, next to shared.config.Settings)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MF_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"

    # Printed on receipts.
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
    # Test only (honoured when env is "test"): stop the posting flow for good at this
    # point, so a test can kill the process between two steps.
    payment_test_pause: Literal["", "after_pending", "after_apply"] = ""
