from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.clock import business_date
from shared.config import DEV_SERVICE_SECRET, Settings


class _NoEvents:
    """Stands in for the outbox where no event is written (a service asks for its source)."""

    def embedded(self, collection: str, *, drop_sent: bool = False) -> None:
        return None


def test_dev_gets_the_well_known_service_secret() -> None:
    settings = Settings(env="dev", service_token_secret=None)
    assert settings.service_token_secret is not None
    assert settings.service_token_secret.get_secret_value() == DEV_SERVICE_SECRET


def test_production_requires_a_real_service_secret() -> None:
    with pytest.raises(ValidationError, match="MF_SERVICE_TOKEN_SECRET"):
        Settings(env="production", service_token_secret=None)
    with pytest.raises(ValidationError, match="32"):
        Settings(env="production", service_token_secret="short")
    with pytest.raises(ValidationError, match="32"):
        Settings(env="production", service_token_secret=DEV_SERVICE_SECRET)
    ok = Settings(env="production", service_token_secret="x" * 40)
    assert ok.service_token_secret is not None


def test_addresses_default_to_the_local_ports() -> None:
    settings = Settings(grpc_host="10.0.0.5", loan_port=6000, loan_addr="")
    assert settings.loan_addr == "10.0.0.5:6000"
    assert Settings(auth_addr="auth:50051").auth_addr == "auth:50051"


def test_business_timezone_must_be_an_iana_zone() -> None:
    with pytest.raises(ValidationError, match="IANA time zone"):
        Settings(business_timezone="EAT+3")
    assert Settings().business_tz().key == "UTC"
    assert Settings(business_timezone="Africa/Nairobi").business_tz().key == "Africa/Nairobi"


@pytest.mark.parametrize(
    ("utc", "zone", "local"),
    [
        # 22:30 UTC is already tomorrow in Nairobi (UTC+3)...
        (datetime(2026, 3, 9, 22, 30, tzinfo=UTC), "Africa/Nairobi", date(2026, 3, 10)),
        # ...and 02:00 UTC is still yesterday in Lima (UTC-5).
        (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), "America/Lima", date(2026, 3, 9)),
        (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), "UTC", date(2026, 3, 10)),
    ],
)
def test_the_business_date_is_the_date_in_the_institutions_zone(
    utc: datetime, zone: str, local: date
) -> None:
    tz = Settings(business_timezone=zone).business_tz()
    assert business_date(utc, tz) == local
    assert business_date(utc) == utc.date()


def test_services_use_the_business_date() -> None:
    from loan_service.service import LoanService
    from payment_service.domain.receipt import Institution
    from payment_service.service import PaymentService

    late = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)
    nairobi = ZoneInfo("Africa/Nairobi")
    # Only the clock and zone matter to today(); nothing else is touched.
    loans = LoanService(
        None, None, None, None,  # type: ignore[arg-type]
        _NoEvents(),  # type: ignore[arg-type]
        clock=lambda: late, timezone=nairobi,
    )
    payments = PaymentService(
        None, None, None, None,  # type: ignore[arg-type]
        _NoEvents(),  # type: ignore[arg-type]
        institution=Institution("MFI", "", ""), clock=lambda: late, timezone=nairobi,
    )
    assert loans.today() == payments.today() == date(2026, 3, 10)
