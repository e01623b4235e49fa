from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.config import DEV_SERVICE_SECRET, Settings


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
