"""The `microfinance` CLI: doctor against the real local brokers, and the `up` supervisor."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from microfinance_cli.doctor import FAIL, OK, check_amqp, check_redis, redact_url, render
from microfinance_cli.supervisor import ChildSpec, Supervisor, is_clean_exit
from shared.config import Settings
from tests.up_stack import PY, SERVING, UpProcess, closed_port

REPO = Path(__file__).resolve().parents[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def child(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


# ---- doctor -----------------------------------------------------------------------------


def broker_settings() -> Settings:
    env = {k: v for k, v in os.environ.items() if k in ("MF_REDIS_URL", "MF_AMQP_URL")}
    return Settings(
        redis_url=env.get("MF_REDIS_URL", "redis://127.0.0.1:6379/0"),
        amqp_url=env.get("MF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )


async def test_doctor_redis_and_rabbitmq_ok_against_local_servers() -> None:
    settings = broker_settings()
    redis_check, amqp_check = await asyncio.gather(check_redis(settings), check_amqp(settings))
    assert redis_check.status == OK, redis_check
    assert "version" in redis_check.detail
    assert amqp_check.status == OK, amqp_check
    assert "***" in amqp_check.detail or "@" not in amqp_check.detail  # password hidden


async def test_doctor_fails_with_a_fix_for_closed_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("MF_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("MF_AMQP_URL", f"amqp://guest:s3cret@127.0.0.1:{port}/")
    settings = Settings()
    redis_check, amqp_check = await asyncio.gather(check_redis(settings), check_amqp(settings))
    for check in (redis_check, amqp_check):
        assert check.status == FAIL
        assert str(port) in check.detail
        assert check.fix
    assert "MF_REDIS_URL" in redis_check.fix
    assert "MF_AMQP_URL" in amqp_check.fix
    text = render([redis_check, amqp_check])
    assert "s3cret" not in text
    assert "fix:" in text


def test_doctor_command_exits_1_and_prints_fix_lines() -> None:
    port = closed_port()
    env = dict(os.environ)
    env.update(
        MF_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        MF_AMQP_URL=os.environ.get("MF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        NO_COLOR="1",
    )
    result = subprocess.run(
        [PY, "-m", "microfinance_cli", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    redis_line = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["redis"])
    assert lines[redis_line].startswith("FAIL")
    assert "fix:" in lines[redis_line + 1]
    assert any(line.startswith("OK") and " rabbitmq " in line for line in lines)
    assert any(line.startswith("OK") and " python " in line for line in lines)


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("amqp://guest:pw@h:5672/v") == "amqp://guest:***@h:5672/v"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


# ---- migrate ----------------------------------------------------------------------------


def test_migrate_create_admin_and_rotate_keys(mongo_url: str) -> None:
    import uuid

    from pymongo import MongoClient

    db_prefix = f"mf_cli_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env.update(
        MF_MONGO_URL=mongo_url,
        MF_MONGO_DB=db_prefix,
        MF_ADMIN_EMAIL="first.admin@example.org",
        MF_ADMIN_PASSWORD="a long enough passphrase 7",
    )

    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, "-m", "microfinance_cli", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    first = migrate()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "auth_service: indexes and mappings up to date" in first.stdout
    assert "first admin: first.admin@example.org ready (created" in first.stdout
    second = migrate()  # idempotent: same indexes, the same admin left alone
    assert second.returncode == 0, second.stdout + second.stderr
    assert "ready (already present" in second.stdout
    assert "passphrase" not in first.stdout + first.stderr + second.stdout + second.stderr

    second_admin = subprocess.run(
        [PY, "-m", "microfinance_cli", "create-admin", "--email", "second@example.org"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert second_admin.returncode == 0, second_admin.stdout + second_admin.stderr
    assert "second@example.org ready (created" in second_admin.stdout

    rotated = subprocess.run(
        [PY, "-m", "microfinance_cli", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    kid = rotated.stdout.split("new signing key ", 1)[1].split(";", 1)[0]
    assert kid in rotated.stdout.split("published keys: ", 1)[1]

    client: MongoClient[dict[str, object]] = MongoClient(mongo_url)
    try:
        staff = list(client[f"{db_prefix}_user"]["staff"].find({}))
        emails = sorted(str(s["email"]) for s in staff)
        assert emails == ["first.admin@example.org", "second@example.org"]
        assert len(list(client[f"{db_prefix}_auth"]["credentials"].list_indexes())) > 1
    finally:
        for name in client.list_database_names():
            if name.startswith(db_prefix):
                client.drop_database(name)
        client.close()


def test_migrate_without_mongo_says_how_to_fix() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env["MF_MONGO_URL"] = f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true"
    result = subprocess.run(
        [PY, "-m", "microfinance_cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "no MongoDB answers" in result.stdout
    assert "fix:" in result.stdout


# ---- supervisor -------------------------------------------------------------------------


async def test_output_is_prefixed_per_child_from_stdout_and_stderr() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [
            ChildSpec("alpha", child("import sys; print('one'); print('two', file=sys.stderr)")),
            ChildSpec("b", child("print('three')")),
        ],
        out=out,
        color=False,
        label="sv",
    )
    await sup.start()
    for c in sup.children:
        await c.process.wait()
    report = await sup.stop()
    lines = out.getvalue().splitlines()
    assert "alpha | one" in lines
    assert "alpha | two" in lines
    assert "b     | three" in lines
    assert report.clean


async def test_colour_wraps_the_name_only() -> None:
    out = io.StringIO()
    sup = Supervisor([ChildSpec("svc", child("print('hi')"))], out=out, color=True, label="sv")
    await sup.start()
    await sup.children[0].process.wait()
    await sup.stop()
    lines = [x for x in out.getvalue().splitlines() if x.endswith(" hi")]
    assert len(lines) == 1, f"child output: {out.getvalue()!r}"
    assert lines[0].startswith("\x1b[")
    assert lines[0].endswith("\x1b[0m hi")


async def test_overlong_lines_are_passed_on_not_dropped() -> None:
    out = io.StringIO()
    size = 3 * 1024 * 1024  # beyond the reader's 1 MiB line limit
    sup = Supervisor(
        [ChildSpec("big", child(f"import sys; sys.stdout.write('x' * {size} + '\\nend\\n')"))],
        out=out,
        color=False,
        label="sv",
    )
    await sup.start()
    await sup.children[0].process.wait()
    await sup.stop()
    text = out.getvalue()
    assert text.count("x") == size
    assert text.splitlines()[-1] == "big | end"


async def test_stop_sends_sigterm_then_kills_after_the_deadline() -> None:
    graceful = """
        import signal, sys, time
        def bye(*_):
            print('got SIGTERM', flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print('ready', flush=True)
        while True:
            time.sleep(1)
    """
    stubborn = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('ready', flush=True)
        while True:
            time.sleep(1)
    """
    out = io.StringIO()
    sup = Supervisor(
        [ChildSpec("graceful", child(graceful)), ChildSpec("stubborn", child(stubborn))],
        out=out,
        color=False,
        label="sv",
        stop_timeout=1.5,
    )
    await sup.start()
    deadline = time.monotonic() + 20
    while out.getvalue().count("| ready") < 2:  # both have installed their handlers
        assert time.monotonic() < deadline, out.getvalue()
        await asyncio.sleep(0.05)
    started = time.monotonic()
    report = await sup.stop()
    assert time.monotonic() - started < 10
    assert report.returncodes["graceful"] == 0
    assert report.returncodes["stubborn"] == -signal.SIGKILL
    assert report.killed == ("stubborn",)
    assert not report.clean
    assert "graceful | got SIGTERM" in out.getvalue()
    assert "stubborn did not stop within the deadline" in out.getvalue()


async def test_run_stops_everyone_and_fails_when_a_child_dies() -> None:
    out = io.StringIO()
    sleeper = "import time\nwhile True: time.sleep(1)"
    sup = Supervisor(
        [
            ChildSpec("steady", child(sleeper)),
            ChildSpec("crash", child("import sys, time; time.sleep(0.3); sys.exit(3)")),
        ],
        out=out,
        color=False,
        label="sv",
        stop_timeout=5,
    )
    code = await asyncio.wait_for(sup.run(asyncio.Event()), 30)
    assert code == 3
    steady = sup.children[0]
    assert steady.returncode == -signal.SIGTERM  # stopped by us, not left behind
    assert "crash exited unexpectedly with code 3; stopping the others" in out.getvalue()


async def test_run_fails_when_readiness_fails() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [ChildSpec("steady", child("import time\nwhile True: time.sleep(1)"))],
        out=out,
        color=False,
        label="sv",
    )

    async def never_ready() -> None:
        raise TimeoutError("not SERVING after 0s: steady")

    code = await asyncio.wait_for(sup.run(asyncio.Event(), never_ready), 30)
    assert code == 1
    assert sup.children[0].returncode is not None
    assert "not ready: not SERVING after 0s: steady; stopping" in out.getvalue()


def test_is_clean_exit() -> None:
    assert is_clean_exit(0)
    assert is_clean_exit(-signal.SIGTERM)
    assert not is_clean_exit(1)
    assert not is_clean_exit(-signal.SIGKILL)


SUPERVISOR_SCRIPT = """
import asyncio, sys
from microfinance_cli.supervisor import ChildSpec, Supervisor, install_stop_signals

CHILD = '''
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("ready", flush=True)
while True:
    time.sleep(1)
'''

async def main() -> int:
    stop = asyncio.Event()
    sup = Supervisor([ChildSpec(f"c{i}", [sys.executable, "-c", CHILD]) for i in range(3)],
                     color=False, stop_timeout=5)
    restore = install_stop_signals(stop, on_repeat=sup.kill_all)

    async def ready() -> None:
        print("pids " + " ".join(str(c.pid) for c in sup.children), flush=True)

    try:
        return await sup.run(stop, ready)
    finally:
        restore()

sys.exit(asyncio.run(main()))
"""


def test_ctrl_c_to_the_process_group_stops_all_children_cleanly() -> None:
    # As a terminal does on Ctrl-C: SIGINT to the supervisor's whole process group.
    proc = subprocess.Popen(
        [PY, "-c", SUPERVISOR_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        process_group=0,
    )
    assert proc.stdout is not None
    pids: list[int] = []
    ready = 0
    deadline = time.monotonic() + 60
    try:
        while (not pids or ready < 3) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "pids " in line:
                pids = [int(p) for p in line.split("pids ", 1)[1].split()]
            if line.rstrip().endswith("| ready"):
                ready += 1
        assert len(pids) == 3
        assert ready == 3
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, rest
    assert "stopping (signal received)" in rest
    assert "all processes stopped" in rest
    for pid in pids:
        assert wait_gone(pid), f"child {pid} still alive"


def test_children_die_with_a_killed_supervisor() -> None:
    # PR_SET_PDEATHSIG: even SIGKILL on the supervisor must not leave children running.
    proc = subprocess.Popen(
        [PY, "-c", SUPERVISOR_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    pids: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while not pids and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "pids " in line:
                pids = [int(p) for p in line.split("pids ", 1)[1].split()]
        assert len(pids) == 3
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    for pid in pids:
        assert wait_gone(pid), f"child {pid} outlived its supervisor"


# ---- up, end to end ---------------------------------------------------------------------


def _services_exist() -> bool:
    import importlib.util

    from microfinance_cli.services import SERVICES

    return all(importlib.util.find_spec(f"{s.package}.main") for s in SERVICES)


def _port_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.e2e
@pytest.mark.skipif(not _services_exist(), reason="not every service has a main.py yet")
def test_up_serves_all_six_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    from microfinance_cli.services import SERVICES

    up = UpProcess.start(tmp_path, "--stop-timeout", "20")
    try:
        up.read_until(SERVING, 240)
        pids = up.child_pids()
        assert len(pids) == len(SERVICES)
        health = subprocess.run(
            [PY, "-m", "microfinance_cli", "health"],
            env=up.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        assert health.stdout.count("SERVING") == len(SERVICES)
        _metrics_move_with_a_login(up)

        up.interrupt(timeout=90)
    finally:
        up.stop()
    output = up.drain()
    assert up.proc.returncode == 0, output[-5000:]
    assert "all processes stopped" in output
    for pid in pids:
        assert wait_gone(pid), f"service pid {pid} still alive"
    assert _port_closed(up.port("embedded_mongo_port")), "embedded mongo left running"
    assert _port_closed(up.port("embedded_es_port")), "embedded elasticsearch left running"
    assert (tmp_path / "data" / "mongo").is_dir()


def _metrics_move_with_a_login(up: UpProcess) -> None:
    """Each process serves /metrics on the port `up` printed for it; a login through the
    gateway shows at the gateway (its route) and at auth_service (its RPC)."""
    from prometheus_client.parser import text_string_to_metric_families

    from microfinance_cli.services import SERVICES
    from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD

    up.read_until("press Ctrl-C to stop", 30)  # the rest of the banner
    base = int(up.env["MF_METRICS_PORT"])
    ports = {s.name: base + i for i, s in enumerate(SERVICES)}
    for name, port in ports.items():
        assert any(name in line and f"metrics :{port}" in line for line in up.seen), name

    def scrape(name: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        r = httpx.get(f"http://127.0.0.1:{ports[name]}/metrics", timeout=10)
        assert r.status_code == 200
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }

    route = frozenset({"route": "/api/v1/auth/login", "method": "POST", "status": "200"}.items())
    rpc = frozenset(
        {"grpc_service": "microfinance.auth.v1.AuthService", "grpc_method": "Login",
         "grpc_code": "OK"}.items()
    )
    before = scrape("gateway").get(("microfinance_http_requests_total", route), 0.0)
    before_rpc = scrape("auth").get(("microfinance_grpc_server_handled_total", rpc), 0.0)
    r = httpx.post(
        f"{up.gateway_url}/api/v1/auth/login",
        json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert scrape("gateway")[("microfinance_http_requests_total", route)] == before + 1
    assert scrape("auth")[("microfinance_grpc_server_handled_total", rpc)] == before_rpc + 1
    # Every service process has its own registry: the loan service saw no login.
    assert ("microfinance_grpc_server_handled_total", rpc) not in scrape("loan")
