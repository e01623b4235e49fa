"""JSON logging that carries the request id and never prints a secret."""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
service_name_var: ContextVar[str] = ContextVar("service_name", default="")

_SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|authorization|api[_-]?key|private[_-]?key|hash)", re.IGNORECASE
)
# JWTs, bearer headers and argon2 hashes, wherever they appear in free text.
_SECRET_TEXT = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    (re.compile(r"\$argon2[a-z]*\$[^\s'\"]+"), "[REDACTED-HASH]"),
]
# Every pattern above needs one of these; most text has none, and one search is cheaper
# than three substitutions (a line is logged per RPC and per HTTP request).
_SECRET_HINT = re.compile(r"(?i)bearer|eyJ|\$argon2")
_REDACTED = "[REDACTED]"
_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()) | {
    "message",
    "asctime",
    "request_id",
    "service",
}


def redact_text(text: str) -> str:
    if _SECRET_HINT.search(text) is None:
        return text
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    # The same few field names come back on every line.
    return _SECRET_KEYS.search(key) is not None


def redact_value(key: str, value: Any) -> Any:
    if _secret_key(key):
        return _REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    return value


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.service = service_name_var.get() or getattr(record, "service", "")
        # Render now so arguments that hold secrets are redacted in the text.
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact_text(str(record.msg))
        fields = record.__dict__
        for key in fields.keys() - _STD_ATTRS:
            fields[key] = redact_value(key, fields[key])
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        rid = getattr(record, "request_id", "")
        return f"{base} [rid={rid}]" if rid else base


class Throttled:
    """Logs a recurring failure once per interval instead of on every attempt."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self._log = logger
        self._interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            if self._suppressed:
                message += f" ({self._suppressed} similar failures not logged)"
            self._log.warning(message, *args)
            self._last, self._suppressed = now, 0
        else:
            self._suppressed += 1

    def reset(self) -> None:
        self._last, self._suppressed = float("-inf"), 0


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    service_name_var.set(service)
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(service)s",
                rename_fields={"levelname": "level", "asctime": "ts", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s"))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pymongo", "aiormq", "aio_pika", "elastic_transport", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def install_redaction(handler: logging.Handler) -> None:
    """Put the redacting filter on a handler someone else created (tests, uvicorn)."""
    handler.addFilter(_ContextFilter())
