"""JSON log lines carry the request id and service, and never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from shared.logging import configure_logging, request_id_var

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_json_line_has_request_id_and_no_secrets(
    restore_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("auth_service", "INFO", json=True)
    reset = request_id_var.set("rid-42")
    try:
        logging.getLogger("auth_service.test").info(
            "login by %s with %s, header Bearer %s, stored %s",
            "amina@example.org",
            "hunter2-password",
            JWT,
            HASH,
            extra={"password": "hunter2-password", "refresh_token": "opaque-refresh", "n": 3},
        )
    finally:
        request_id_var.reset(reset)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["request_id"] == "rid-42"
    assert record["service"] == "auth_service"
    assert record["level"] == "INFO"
    assert record["password"] == "[REDACTED]"
    assert record["refresh_token"] == "[REDACTED]"
    assert record["n"] == 3
    assert JWT not in line
    assert HASH not in line
    assert "opaque-refresh" not in line
    # The message text is kept, minus the token and the hash.
    assert "login by amina@example.org" in record["message"]


def test_redaction_in_free_text_whatever_the_case_and_plain_text_untouched() -> None:
    from shared.logging import redact_text

    for header in ("Bearer", "BEARER", "bEaReR"):
        assert redact_text(f"got {header} abc.def-ghi") == "got Bearer [REDACTED]"
    assert redact_text(f"token {JWT} here") == "token [REDACTED-JWT] here"
    assert redact_text(f"hash {HASH}") == "hash [REDACTED-HASH]"
    plain = "rpc /microfinance.loan.v1.LoanService/ApplyRepayment OK"
    assert redact_text(plain) is plain
