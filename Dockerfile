# One image for all six processes; docker-compose.yml picks the process with `command`.
# Two stages: the build stage installs the locked dependencies (requirements.lock, every
# file checked against its hash) and the project into a venv; the runtime stage gets only
# that venv, on a slim base, running as a non-root user. Refresh the lock: `make lock`.

FROM python:3.11-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The dependencies first, in their own layer: rebuilt only when the lock changes.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/requirements.lock

# Then the project itself, built with the locked setuptools (no build isolation, no index:
# nothing unpinned comes in).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY microfinance ./microfinance
COPY microfinance_cli ./microfinance_cli
COPY shared ./shared
COPY api_gateway ./api_gateway
COPY auth_service ./auth_service
COPY user_service ./user_service
COPY loan_service ./loan_service
COPY payment_service ./payment_service
COPY reporting_service ./reporting_service
RUN pip install --no-deps --no-build-isolation --no-index . \
 && pip uninstall --yes setuptools wheel


FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    MF_DATA_DIR=/data \
    MF_BIND_HOST=0.0.0.0 \
    MF_GATEWAY_HOST=0.0.0.0

RUN groupadd --system --gid 10001 microfinance \
 && useradd --system --uid 10001 --gid microfinance --home-dir /app --shell /usr/sbin/nologin microfinance \
 && mkdir -p /app /data \
 && chown microfinance:microfinance /data

# The venv holds the dependencies and the installed project (code and web assets).
COPY --from=build /opt/venv /opt/venv

WORKDIR /app
USER microfinance
VOLUME ["/data"]
# gRPC: auth, user, loan, payment, reporting; HTTP: the gateway.
EXPOSE 50051 50052 50053 50054 50055 8000

# docker-compose.yml sets the real command per service; alone, the image runs the gateway.
CMD ["python", "-m", "api_gateway"]
