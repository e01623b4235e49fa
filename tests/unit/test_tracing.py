"""shared/tracing.py and what it adds to the gRPC metadata and the AMQP headers: only with
tracing on, and nothing of the tracing extra (OpenTelemetry's SDK and exporter) needed while
it is off. OpenTelemetry's API comes with FastAPI, which has its own telemetry."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import tracing
from shared.events.envelope import Event
from shared.events.outbox import TRACE_FIELD, Outbox, wire_of_doc
from shared.grpc.client import outgoing_metadata
from tests.integration.support import traced

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        check=False,
    )


class _Db(dict):  # type: ignore[type-arg]
    """Enough of a database for an Outbox that only builds documents."""

    name = "test"

    def __missing__(self, key: str) -> object:
        return object()


def test_off_runs_without_the_tracing_extra() -> None:
    result = run_python(
        """
        import sys
        from importlib.abc import MetaPathFinder

        class NotInstalled(MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter")):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, NotInstalled())
        import api_gateway.app, shared.runtime
        from shared import tracing
        from shared.events.outbox import Outbox, wire_of_doc
        from shared.grpc.client import outgoing_metadata

        assert tracing.setup("off", "test") is None and not tracing.enabled
        assert [k for k, _ in outgoing_metadata()] == []
        outbox = Outbox({"outbox": None, "outbox_lease": None}, "test")
        doc = outbox.event_doc(outbox.new_event("loan.disbursed", "L1", {}))
        wire_of_doc(doc)
        try:
            tracing.setup("otlp", "test")
        except RuntimeError as exc:
            print(exc)
        assert not [m for m in sys.modules if m.startswith("opentelemetry.sdk")]
        from fastapi.testclient import TestClient

        with TestClient(api_gateway.app.create_app()) as client:
            assert client.get("/api/v1/nothing").status_code == 404
        """
    )
    assert result.returncode == 0, result.stderr
    assert "needs the tracing extra" in result.stdout


def test_console_prints_spans_under_the_service_name() -> None:
    result = run_python(
        """
        from shared import tracing

        tracing.setup("console", "payment_service")
        with tracing.span("hello", attributes={"k": "v"}):
            pass
        """,
        OTEL_SERVICE_NAME="payments-eu",
    )
    assert result.returncode == 0, result.stderr
    span = json.loads(result.stderr)
    assert span["name"] == "hello"
    assert span["resource"]["attributes"]["service.name"] == "payments-eu"


def test_metadata_carries_the_trace_only_with_tracing_on() -> None:
    assert "traceparent" not in dict(outgoing_metadata())
    with traced():
        assert "traceparent" not in dict(outgoing_metadata()), "no span, nothing to carry"
        with tracing.span("call") as span:
            sent = dict(outgoing_metadata((("x-request-id", "r1"),)))
            context = span.get_span_context()
            version, trace_id, span_id, _ = sent["traceparent"].split("-")
            assert (version, trace_id, span_id) == (
                "00",
                f"{context.trace_id:032x}",
                f"{context.span_id:016x}",
            )
            given = dict(outgoing_metadata((("traceparent", "00-given"),)))
            assert given["traceparent"] == "00-given"
    assert "traceparent" not in dict(outgoing_metadata())


def test_events_store_and_send_the_trace_only_with_tracing_on() -> None:
    outbox = Outbox(_Db(), "test")  # type: ignore[arg-type]
    event = Event("loan.disbursed", "L1", {}, occurred_at=datetime(2026, 1, 2, tzinfo=UTC))
    plain = outbox.event_doc(event)
    assert TRACE_FIELD not in plain
    assert wire_of_doc(plain)[1].headers == {"aggregate_id": "L1"}
    with traced(), tracing.span("request") as span:
        doc = outbox.event_doc(event)
    traceparent = doc[TRACE_FIELD]["traceparent"]
    assert traceparent.split("-")[2] == f"{span.get_span_context().span_id:016x}"
    body, properties = wire_of_doc(doc)
    assert properties.headers == {"aggregate_id": "L1", "traceparent": traceparent}
    assert body == wire_of_doc(plain)[0], "the body is the same either way"


def test_a_span_is_failed_by_an_unexpected_exception_only() -> None:
    with traced() as exporter:
        with pytest.raises(KeyError), tracing.span("boom"):
            raise KeyError("x")
        with pytest.raises(LookupError), tracing.span("fine", expected=(LookupError,)):
            raise LookupError("x")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert not spans["boom"].status.is_ok
    assert spans["fine"].status.is_unset
