"""Generate the Python gRPC code for every proto under proto/, or check it has not drifted.

    python scripts/gen_protos.py           # regenerate microfinance/ in place
    python scripts/gen_protos.py --check   # exit 1 if the committed code differs (CI)

The generated package is committed, so services import it without a build step. The check
regenerates into a temporary directory and compares byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "proto"
PACKAGE = "microfinance"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

TOP_INIT = '"""Generated gRPC contracts (do not edit: run `make protos`; sources in proto/)."""\n'
SUB_INIT = '"""Generated package (see proto/)."""\n'


def proto_files() -> list[str]:
    """Every .proto under proto/, relative to it and sorted, so output order never varies."""
    return sorted(p.relative_to(PROTO_DIR).as_posix() for p in PROTO_DIR.rglob("*.proto"))


def well_known_dir() -> Path:
    """grpc_tools' bundled google/protobuf/*.proto (timestamp, field_mask)."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or spec.origin is None:
        raise SystemExit("grpcio-tools is not installed: pip install -e '.[dev]'")
    return Path(spec.origin).resolve().parent / "_proto"


def generate(out_dir: Path) -> None:
    """Run protoc for all protos into out_dir and add the package __init__ files."""
    protos = proto_files()
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR}")
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        str(PROTO_DIR),
        "-I",
        str(well_known_dir()),
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    # Relative proto paths keep absolute paths out of the generated descriptors.
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        cmd, cwd=PROTO_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"protoc failed with exit code {result.returncode}")
    write_inits(out_dir, protos)


def write_inits(out_dir: Path, protos: list[str]) -> None:
    """Create microfinance/__init__.py and one __init__.py per package directory."""
    pkg_root = out_dir / PACKAGE
    pkg_root.mkdir(parents=True, exist_ok=True)
    (pkg_root / "__init__.py").write_text(TOP_INIT, encoding="utf-8")
    for proto in protos:
        parent = (out_dir / proto).parent
        while parent != pkg_root and pkg_root in parent.parents:
            (parent / "__init__.py").write_text(SUB_INIT, encoding="utf-8")
            parent = parent.parent


def generated_files(root: Path) -> set[str]:
    """Paths (relative to root) of every generated file in root/microfinance."""
    pkg_root = root / PACKAGE
    if not pkg_root.is_dir():
        return set()
    found: set[str] = set()
    for path in pkg_root.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.name == "__init__.py" or path.name.endswith(GENERATED_SUFFIXES):
            found.add(path.relative_to(root).as_posix())
    return found


def remove_stale(root: Path) -> None:
    """Delete generated modules so a removed proto leaves nothing behind."""
    for rel in generated_files(root):
        if not rel.endswith("__init__.py"):
            (root / rel).unlink()


def check() -> int:
    """Regenerate into a temp dir; print and count every file that differs from the repo."""
    with tempfile.TemporaryDirectory(prefix="mf-protos-") as tmp:
        tmp_root = Path(tmp)
        generate(tmp_root)
        expected = generated_files(tmp_root)
        committed = generated_files(REPO_ROOT)
        problems: list[str] = []
        for rel in sorted(expected | committed):
            if rel not in committed:
                problems.append(f"missing: {rel}")
            elif rel not in expected:
                problems.append(f"stale (no proto generates it): {rel}")
            elif not filecmp.cmp(tmp_root / rel, REPO_ROOT / rel, shallow=False):
                problems.append(f"differs: {rel}")
    if problems:
        print("Generated protobuf code is out of date; run `make protos` and commit:")
        for line in problems:
            print(f"  {line}")
        return 1
    print(f"protos up to date ({len(expected)} generated files)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed generated code differs",
    )
    args = parser.parse_args(argv)
    if args.check:
        return check()
    remove_stale(REPO_ROOT)
    generate(REPO_ROOT)
    print(f"generated {len(generated_files(REPO_ROOT))} files under {PACKAGE}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
