# One image for all six processes; docker-compose.yml picks the process with `command`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MF_DATA_DIR=/data \
    MF_BIND_HOST=0.0.0.0 \
    MF_GATEWAY_HOST=0.0.0.0

RUN groupadd --system --gid 10001 microfinance \
 && useradd --system --uid 10001 --gid microfinance --home-dir /app --shell /usr/sbin/nologin microfinance \
 && mkdir -p /app /data \
 && chown microfinance:microfinance /data

WORKDIR /app
COPY . /app
# The runtime dependencies only: no dev tools and no embedded substitutes in the image.
RUN pip install . && rm -rf /app/build

USER microfinance
VOLUME ["/data"]
# gRPC: auth, user, loan, payment, reporting; HTTP: the gateway.
EXPOSE 50051 50052 50053 50054 50055 8000

# docker-compose.yml sets the real command per service; alone, the image runs the gateway.
CMD ["python", "-m", "api_gateway"]
