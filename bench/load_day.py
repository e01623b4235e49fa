"""The mixed agent day under Locust, against a stack of its own (needs the ``bench`` extra).

Starts ``microfinance up`` on free ports with its own data directory, database, exchange and
Redis prefix (tests/up_stack.py), seeds it with ``microfinance demo-data``, records the
resident memory (RSS) of the six processes, runs

    locust --headless -u USERS -r RATE --run-time TIME --csv OUT/day -f bench/locustfile.py
           --host http://127.0.0.1:<its gateway>

sampling the RSS every minute meanwhile, records it again at the end, prints the
throughput, the p50/p99 of each request type and the memory table, and stops the stack
(removing its exchange, queues and Redis keys). The Locust CSVs and a summary.json stay in
OUT. It asserts nothing about speed.

    python bench/load_day.py [--users 20] [--rate 2] [--run-time 10m] [--out DIR]
                             [--borrowers 1000] [--loans 1000] [--days 30]

The login rate limit (per client address) is lifted in this stack: every simulated agent
comes from 127.0.0.1, where in the field each has a phone of its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD, PY, SERVING, UpProcess, up_env  # noqa: E402

PASSWORD = "demo-password"


def rss_kib(pid: int) -> int | None:
    """Resident set size of a live process, from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def processes(up: UpProcess) -> dict[str, int]:
    """Name -> pid of the supervised processes, from `up`'s "started X (pid N)" lines."""
    found: dict[str, int] = {}
    for line in up.seen:
        if "| started " in line and "(pid " in line:
            name = line.split("| started ", 1)[1].split(" (pid ", 1)[0].strip()
            found[name] = int(line.rsplit("(pid ", 1)[1].rstrip(")"))
    # The embedded MongoDB and Elasticsearch stand-ins, by the port each listens on.
    for name, port in (("mongo stand-in", "MF_EMBEDDED_MONGO_PORT"),
                       ("es stand-in", "MF_EMBEDDED_ES_PORT")):
        pid = listener(int(up.env[port]))
        if pid is not None:
            found[name] = pid
    return found


def listener(port: int) -> int | None:
    """The pid listening on a loopback port, from `ss` (None if it cannot tell)."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"],  # noqa: S607 - iproute2's ss, on PATH
            capture_output=True, text=True, check=False,
        ).stdout
    except OSError:
        return None
    if "pid=" not in out:
        return None
    return int(out.split("pid=", 1)[1].split(",", 1)[0])


def sample(pids: dict[str, int]) -> dict[str, int | None]:
    return {name: rss_kib(pid) for name, pid in pids.items()}


def seed(up: UpProcess, workdir: Path, args: argparse.Namespace) -> str:
    # The CLI outside `up` reaches the embedded stand-ins through their URLs.
    env = {
        **up.env,
        "MF_MONGO_URL": f"mongodb://127.0.0.1:{up.env['MF_EMBEDDED_MONGO_PORT']}/?directConnection=true",
        "MF_ES_URL": f"http://127.0.0.1:{up.env['MF_EMBEDDED_ES_PORT']}",
    }
    started = time.monotonic()
    done = subprocess.run(
        [PY, "-m", "microfinance_cli", "demo-data", "--borrowers", str(args.borrowers),
         "--loans", str(args.loans), "--days", str(args.days), "--agents", str(args.agents),
         "--password", PASSWORD],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=1800, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"demo-data failed:\n{done.stdout}\n{done.stderr}")
    summary = [line for line in done.stdout.splitlines()
               if line.startswith(("demo data", "loans by", "end of day:", "timings"))]
    print(f"seeded in {time.monotonic() - started:.0f}s:\n" + "\n".join(summary), flush=True)
    return done.stdout


def wait_for_reports(url: str, seconds: float = 300) -> None:
    """Reporting projects the seeded end of day from events: poll (as the first admin) until
    its portfolio is as of the last date loan_service closed, so reports answer from the
    start instead of 409 "no business date has been closed yet"."""
    with httpx.Client(base_url=url, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/login", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        closed = http.get("/api/v1/eod", headers=headers).json().get("last_closed_date")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = http.get("/api/v1/reports/portfolio", headers=headers)
            summaries = r.json().get("summaries") if r.status_code == 200 else None
            if summaries and summaries[0]["as_of_date"] == closed:
                print(f"reports are as of {closed}", flush=True)
                return
            time.sleep(1)
    print(f"warning: reports did not reach {closed} in {seconds:.0f}s", flush=True)


def run_locust(up: UpProcess, args: argparse.Namespace, pids: dict[str, int]) -> list[Any]:
    """Runs Locust to the end; returns the RSS samples taken every minute meanwhile."""
    env = {**os.environ, "LOAD_AGENTS": str(args.agents), "LOAD_PASSWORD": PASSWORD}
    cmd = [
        PY, "-m", "locust", "--headless", "-u", str(args.users), "-r", str(args.rate),
        "--run-time", args.run_time, "--csv", str(args.out / "day"), "--only-summary",
        "-f", str(ROOT / "bench" / "locustfile.py"), "--host", up.gateway_url,
    ]
    print("$ " + " ".join(cmd), flush=True)
    started = time.monotonic()
    with (args.out / "locust.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        samples: list[Any] = []
        next_sample = started + 60
        while proc.poll() is None:
            if time.monotonic() >= next_sample:
                samples.append({"t": round(time.monotonic() - started), "rss_kib": sample(pids),
                                "loadavg": os.getloadavg()})
                next_sample += 60
            time.sleep(1)
    if proc.returncode not in (0, 1):  # 1: some requests failed, the figures still stand
        raise SystemExit(f"locust exited {proc.returncode}; see {args.out / 'locust.log'}")
    return samples


def stats(out: Path) -> list[dict[str, str]]:
    with (out / "day_stats.csv").open() as f:
        return list(csv.DictReader(f))


def report(rows: list[dict[str, str]], start: dict[str, int | None],
           end: dict[str, int | None]) -> None:
    print(f"\n{'request':<36}{'count':>8}{'fail':>6}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}")
    for r in rows:
        name = "ALL" if r["Name"] == "Aggregated" else r["Name"]
        print(f"{name:<36}{r['Request Count']:>8}{r['Failure Count']:>6}"
              f"{float(r['Requests/s']):>8.2f}{r['50%']:>8}{r['99%']:>8}")
    print(f"\n{'process':<20}{'RSS start MiB':>14}{'RSS end MiB':>13}{'change':>9}")
    for name in start:
        a, b = start[name], end.get(name)
        if a is None or b is None:
            print(f"{name:<20}{'?':>14}{'?':>13}")
            continue
        print(f"{name:<20}{a / 1024:>14.1f}{b / 1024:>13.1f}{(b - a) / 1024:>+9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2)
    parser.add_argument("--run-time", default="10m")
    parser.add_argument("--agents", type=int, default=20, help="demo agents (logins)")
    parser.add_argument("--borrowers", type=int, default=1000)
    parser.add_argument("--loans", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="where the CSVs go")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="load-day-"))
    args.out = (args.out or workdir / "out").resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    env = up_env(workdir / "data")
    env["MF_LOGIN_RATE_LIMIT_PER_MINUTE"] = "0"  # off: all agents share one address here
    up = UpProcess.start(workdir, "--stop-timeout", "30", env=env)
    try:
        up.read_until(SERVING, 300)
        print(f"stack up at {up.gateway_url} (data in {workdir})", flush=True)
        seeded = seed(up, workdir, args)
        wait_for_reports(up.gateway_url)
        pids = processes(up)
        start, load_start = sample(pids), os.getloadavg()
        samples = run_locust(up, args, pids)
        end, load_end = sample(pids), os.getloadavg()
        rows = stats(args.out)
        report(rows, start, end)
        # The machine is shared: the load average says how much CPU the stack really had.
        loads = [" ".join(f"{x:.1f}" for x in load) for load in (load_start, load_end)]
        print(f"\nload average (1/5/15 min) at start {loads[0]}, at end {loads[1]},"
              f" on {os.cpu_count()} CPUs", flush=True)
        (args.out / "summary.json").write_text(json.dumps({
            "users": args.users, "rate": args.rate, "run_time": args.run_time,
            "seeded": seeded, "pids": pids, "rss_kib_start": start, "rss_kib_end": end,
            "loadavg_start": load_start, "loadavg_end": load_end, "cpus": os.cpu_count(),
            "rss_kib_samples": samples, "stats": rows,
        }, indent=2))
        print(f"\nCSVs, locust.log and summary.json in {args.out}", flush=True)
        up.interrupt(timeout=90)
    finally:
        up.stop()
        shutil.rmtree(workdir / "data", ignore_errors=True)  # the stand-ins' files; OUT stays


if __name__ == "__main__":
    main()
