"""deploy/nginx/nginx.conf run outside Docker: found, adapted and given a certificate.

Docker's names (gateway, loan ...) do not resolve here, and Debian 12's nginx 1.22 predates
`resolve` in upstreams (1.27.3) and `http2 on;` (1.25.1): ``adapt`` rewrites those few
tokens, the ports and the file paths, and leaves everything else as written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "deploy" / "nginx" / "nginx.conf"


def find_nginx() -> str | None:
    """nginx on PATH, in /usr/sbin, or unpacked by .ci/run into .tools/nginx."""
    unpacked = REPO / ".tools" / "nginx" / "usr" / "sbin" / "nginx"
    if unpacked.exists():
        return str(unpacked)
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def version(nginx: str) -> tuple[int, int, int]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    assert found, out
    major, minor, patch = map(int, found.groups())
    return major, minor, patch


def make_cert(directory: Path) -> Path:
    """A self-signed tls.crt / tls.key for localhost and 127.0.0.1 (as operations.md's)."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )
    return directory / "tls.crt"


def adapt(
    nginx: str,
    workdir: Path,
    *,
    upstreams: dict[str, str] | None = None,
    listens: dict[str, int] | None = None,
) -> Path:
    """Write an adapted copy of the config into ``workdir``; returns its path.

    ``upstreams``: compose name -> "host:port" to send it to (default 127.0.0.1, same port).
    ``listens``: "80" / "443" / "50443" / "8081" -> the port to listen on, on 127.0.0.1.
    """
    conf = CONF.read_text()
    targets = upstreams or {}

    def server(match: re.Match[str]) -> str:
        return f"server {targets.get(match[1], '127.0.0.1:' + match[2])}"

    conf = re.sub(r"server (\w+):(\d+) resolve", server, conf)
    if version(nginx) < (1, 25, 1):
        conf = conf.replace("    http2 on;\n", "")
        conf = re.sub(r"listen (\d+) ssl;", r"listen \1 ssl http2;", conf)
    for port, to in (listens or {}).items():
        conf = re.sub(
            rf"listen (127\.0\.0\.1:)?{port}( ssl)?( http2)?;",
            rf"listen 127.0.0.1:{to}\2\3;",
            conf,
        )
    tls = workdir / "tls"
    if not (tls / "tls.crt").exists():
        make_cert(tls)
    conf = conf.replace("/etc/nginx/tls/", f"{tls}/")
    conf = conf.replace("/tmp/nginx.pid", str(workdir / "nginx.pid"))
    # Temp dirs of our own: a packaged nginx's compiled-in ones may not exist or be writable.
    temps = "".join(
        f"  {kind}_temp_path {workdir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", "http {\n" + temps, 1)
    (workdir / "logs").mkdir(exist_ok=True)
    path = workdir / "nginx.conf"
    path.write_text(conf)
    return path


def command(nginx: str, conf: Path, *args: str) -> list[str]:
    workdir = conf.parent
    return [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "logs" / "error.log"),
            *args]
