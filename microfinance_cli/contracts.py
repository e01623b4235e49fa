"""`microfinance contracts`: `buf lint` and `buf breaking` over proto/, with a pinned buf.

buf comes from npm (@bufbuild/buf ships the binary for each platform) and is installed into the
git-ignored .tools/buf on first use, so a clean machine or CI needs only npm. `buf breaking`
compares proto/ with proto/baseline.binpb, the image of the last released contract (see
docs/api.md, "Guarding the contracts").
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUF_VERSION = "1.75.0"
TOOLS_DIR = REPO_ROOT / ".tools" / "buf"
BASELINE = REPO_ROOT / "proto" / "baseline.binpb"


class BufUnavailable(RuntimeError):
    """buf is not installed and cannot be installed here; the message says how to fix it."""


def buf_path(tools_dir: Path = TOOLS_DIR) -> Path:
    """Where the pinned buf is (or will be) installed."""
    return tools_dir / "node_modules" / ".bin" / "buf"


def installed_version(tools_dir: Path = TOOLS_DIR) -> str | None:
    """The @bufbuild/buf version installed in tools_dir, or None."""
    manifest = tools_dir / "node_modules" / "@bufbuild" / "buf" / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) and buf_path(tools_dir).exists() else None


def ensure_buf(tools_dir: Path = TOOLS_DIR) -> Path:
    """The pinned buf, installed with npm first when missing or of another version."""
    if installed_version(tools_dir) == BUF_VERSION:
        return buf_path(tools_dir)
    npm = shutil.which("npm")
    if npm is None:
        raise BufUnavailable(
            "buf is not installed and npm is missing: install Node.js and npm "
            "(apt-get install npm), then run `microfinance contracts` again"
        )
    tools_dir.mkdir(parents=True, exist_ok=True)
    # --ignore-scripts: the package's postinstall only optimises start-up; its bin shim finds
    # the platform binary (an optional dependency) by itself.
    argv = [
        npm, "install", "--prefix", str(tools_dir), "--no-save", "--no-audit", "--no-fund",
        "--ignore-scripts", "--loglevel=error", f"@bufbuild/buf@{BUF_VERSION}",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or installed_version(tools_dir) != BUF_VERSION:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BufUnavailable(
            f"`npm install @bufbuild/buf@{BUF_VERSION}` into {tools_dir} failed "
            f"(exit {result.returncode}): " + " / ".join(tail)
        )
    return buf_path(tools_dir)


def lint_argv(buf: Path) -> list[str]:
    """STANDARD rules with the exceptions buf.yaml lists (run from the repository root)."""
    return [str(buf), "lint"]


def breaking_argv(buf: Path, against: Path = BASELINE) -> list[str]:
    """Compare proto/ with the released contract's image (run from the repository root)."""
    return [str(buf), "breaking", "--against", str(against)]


def baseline_argv(buf: Path, out: Path = BASELINE) -> list[str]:
    """Write the image `buf breaking` compares with; run at a release, then commit it.

    Without source info (comments, line numbers) the image changes only when the contract does.
    """
    return [str(buf), "build", "--exclude-source-info", "-o", str(out)]
