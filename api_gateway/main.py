"""api_gateway process: uvicorn serving the FastAPI app."""

from __future__ import annotations

import uvicorn

from api_gateway.app import create_app
from shared import heap, tracing
from shared.config import get_settings
from shared.eventloop import uvicorn_loop
from shared.logging import configure_logging
from shared.runtime import metrics_endpoint


def main() -> None:
    settings = get_settings()
    configure_logging("api_gateway", settings.log_level, settings.log_json)
    tracing.setup(settings.tracing, "api_gateway")
    app = create_app(settings)
    heap.settle(settings.gc_gen0_threshold)
    # /metrics on a port of its own (MF_METRICS_PORT), never on the public one.
    with metrics_endpoint(settings):
        uvicorn.run(
            app,
            host=settings.gateway_host,
            port=settings.gateway_port,
            loop=uvicorn_loop(settings.event_loop),
            # Our root handler (JSON, redaction, request id) does the logging; the
            # middleware writes one access line per request, so uvicorn's own is off.
            log_config=None,
            access_log=False,
            proxy_headers=True,
            server_header=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        )


if __name__ == "__main__":
    main()
