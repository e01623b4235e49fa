"""`microfinance doctor`: one line per check, each failure with the way to fix it."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from microfinance_cli.backends import find_executable
from microfinance_cli.health import endpoints, probe_endpoints
from microfinance_cli.services import SERVICES
from shared.config import Settings

OK, WARN, FAIL = "OK", "WARN", "FAIL"
REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_PACKAGES = ("common", "auth", "user", "loan", "payment", "reporting")
CHECK_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN (works, but note this) or FAIL
    detail: str
    fix: str = ""


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _err(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    # pymongo appends its whole topology description; the first clause says it all.
    first = text[0].split(" (configured timeouts")[0]
    return f"{type(exc).__name__}: {first[:200]}"


# ---- environment ------------------------------------------------------------------------


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 11):  # noqa: UP036 - said out loud, for the record
        return Check("python", OK, f"Python {version}")
    return Check("python", FAIL, f"Python {version}", "install Python 3.11 or newer")


def check_venv() -> Check:
    if sys.prefix != sys.base_prefix:
        return Check("venv", OK, sys.prefix)
    return Check("venv", WARN, "not running inside a virtualenv", "use ./run, which creates .venv")


def check_substitutes(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    fix = "pip install -e '.[embedded]' (./run does this)"
    for name, url, setting, package, exe in (
        ("embedded mongo", settings.mongo_url, "MF_MONGO_URL", "secantusdb", "secantusd-py"),
        ("embedded elasticsearch", settings.es_url, "MF_ES_URL", "noida-db", "noida-db"),
    ):
        if url:
            checks.append(Check(name, OK, f"not needed: {setting} is set"))
        elif (path := find_executable(exe)) is not None:
            checks.append(Check(name, OK, f"{package} installed ({path})"))
        else:
            checks.append(Check(name, FAIL, f"{exe} not installed", fix))
    return checks


# ---- backends ---------------------------------------------------------------------------


async def check_mongo(settings: Settings) -> Check:
    url = settings.mongo_url_or_default()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=int(CHECK_TIMEOUT * 1000), connectTimeoutMS=2000
    )
    try:
        await client.admin.command("ping")
        info = await client.admin.command("buildInfo")
        detail = f"{redact_url(url)} (version {info.get('version', '?')})"
        return Check("mongo", OK, detail)
    except Exception as exc:  # any driver error is a failed check, reported as such
        if settings.mongo_url:
            return Check(
                "mongo",
                FAIL,
                f"{redact_url(url)}: {_err(exc)}",
                "start MongoDB at MF_MONGO_URL, or unset it to use the embedded substitute",
            )
        return Check(
            "mongo", WARN, f"nothing answers at {redact_url(url)}; `microfinance up` starts one"
        )
    finally:
        await client.close()


async def check_elasticsearch(settings: Settings) -> Check:
    url = settings.es_url_or_default()
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            response = await client.get(url.rstrip("/") + "/")
        response.raise_for_status()
        version = response.json().get("version", {}).get("number", "?")
        return Check("elasticsearch", OK, f"{redact_url(url)} (version {version})")
    except (httpx.HTTPError, ValueError) as exc:
        if settings.es_url:
            return Check(
                "elasticsearch",
                FAIL,
                f"{redact_url(url)}: {_err(exc)}",
                "start Elasticsearch at MF_ES_URL, or unset it to use the embedded substitute",
            )
        return Check(
            "elasticsearch",
            WARN,
            f"nothing answers at {redact_url(url)}; `microfinance up` starts one",
        )


def _broker_fix(binary: str, env: str, url: str) -> str:
    """How to get an unreachable Redis or RabbitMQ going."""
    if env in os.environ:
        return f"start the server at {redact_url(url)}, or correct/unset {env}"
    if shutil.which(binary):
        return f"start it: `microfinance up` and `./run test` start the installed {binary}"
    return f"apt-get install {binary}, or set {env} to a running server"


async def check_redis(settings: Settings) -> Check:
    url = settings.redis_url
    client = aioredis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=3)
    try:
        await client.ping()
        info = await client.info("server")
        return Check("redis", OK, f"{redact_url(url)} (version {info.get('redis_version', '?')})")
    except Exception as exc:  # connection, auth or protocol error: all mean "not usable"
        fix = _broker_fix("redis-server", "MF_REDIS_URL", url)
        return Check("redis", FAIL, f"{redact_url(url)}: {_err(exc)}", fix)
    finally:
        await client.aclose()


async def check_amqp(settings: Settings) -> Check:
    url = settings.amqp_url
    # aio-pika logs a failed connect at ERROR on its own; the check line already says it.
    logging.getLogger("aio_pika").setLevel(logging.CRITICAL)
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    try:
        connection = await aio_pika.connect(url, timeout=CHECK_TIMEOUT)
    except Exception as exc:  # aiormq raises a wide family; every one means "not usable"
        fix = _broker_fix("rabbitmq-server", "MF_AMQP_URL", url)
        return Check("rabbitmq", FAIL, f"{redact_url(url)}: {_err(exc)}", fix)
    try:
        props = connection.transport.connection.server_properties if connection.transport else {}
        version = props.get("version", "?") if isinstance(props, dict) else "?"
        if isinstance(version, bytes):
            version = version.decode()
        return Check("rabbitmq", OK, f"{redact_url(url)} (version {version})")
    finally:
        await connection.close()


# ---- code -------------------------------------------------------------------------------


def check_protos_importable() -> Check:
    missing: list[str] = []
    for pkg in PROTO_PACKAGES:
        module = f"microfinance.{pkg}.v1.{pkg}_pb2"
        try:
            importlib.import_module(module)
        except Exception as exc:  # missing, stale or broken generated code
            missing.append(f"{module} ({_err(exc)})")
    if missing:
        return Check(
            "protos importable", FAIL, "; ".join(missing), "run `microfinance protos`"
        )
    return Check("protos importable", OK, f"{len(PROTO_PACKAGES)} packages")


def check_protos_fresh() -> Check:
    script = REPO_ROOT / "scripts" / "gen_protos.py"
    if not script.exists():
        return Check("protos up to date", WARN, "scripts/gen_protos.py not present; not checked")
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(script), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 0:
        return Check("protos up to date", OK, "generated code matches proto/")
    tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
    return Check(
        "protos up to date", FAIL, " / ".join(tail) or "drift", "run `microfinance protos`"
    )


async def check_services(settings: Settings) -> list[Check]:
    """One check per address (each replica of a list on its own)."""
    results = await probe_endpoints(endpoints(SERVICES, settings), CHECK_TIMEOUT)
    checks: list[Check] = []
    for result in results:
        name = f"service {result.name}"
        if result.serving:
            checks.append(Check(name, OK, f"SERVING at {result.target}"))
        elif result.status == "UNREACHABLE":
            checks.append(Check(name, WARN, f"not running at {result.target}"))
        else:
            detail = f"{result.status} at {result.target} {result.detail}".strip()
            fix = "see its log; `microfinance health` re-checks"
            checks.append(Check(name, FAIL, detail, fix))
    return checks


# ---- driver -----------------------------------------------------------------------------


async def _guard(name: str, check: Awaitable[Check]) -> Check:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT + 5)
    except TimeoutError:
        return Check(name, FAIL, "timed out", "is the server hung or firewalled?")


async def run_checks(settings: Settings, *, include_code: bool = True) -> list[Check]:
    checks = [check_python(), check_venv(), *check_substitutes(settings)]
    backends = await asyncio.gather(
        _guard("mongo", check_mongo(settings)),
        _guard("elasticsearch", check_elasticsearch(settings)),
        _guard("redis", check_redis(settings)),
        _guard("rabbitmq", check_amqp(settings)),
    )
    checks.extend(backends)
    if include_code:
        checks.append(check_protos_importable())
        checks.append(await asyncio.to_thread(check_protos_fresh))
    checks.extend(await check_services(settings))
    return checks


def render(checks: list[Check], style: Callable[[str, str], str] | None = None) -> str:
    width = max(len(c.name) for c in checks)
    lines: list[str] = []
    for c in checks:
        tag = f"{c.status:<4}"
        if style is not None:
            tag = style(c.status, tag)
        lines.append(f"{tag}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"      {'':<{width}}  fix: {c.fix}")
    return "\n".join(lines)
