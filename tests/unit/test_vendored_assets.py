"""The vendored third-party assets are exactly the ones docs/web-client.md lists (version,
license, sha256), each with its license text, and pyproject ships them in the package."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "api_gateway" / "web" / "static" / "vendor"
DOC = ROOT / "docs" / "web-client.md"
# | name | version | license | `file` | fetched from | `sha256` |
ROW = re.compile(
    r"^\| (\S+) \| ([\d.]+) \| (.+?) \| `([^`]+)` \| .+? \| `([0-9a-f]{64})` \|$", re.M
)
LICENSE_NAMES = ("LICENSE", "LICENSE.md", "NOTICE")


def documented() -> dict[str, str]:
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    assert rows, "the vendored assets table in docs/web-client.md has no rows"
    return {file: sha for _name, _version, _license, file, sha in rows}


def test_every_documented_asset_matches_its_sha256() -> None:
    for file, sha in documented().items():
        data = (VENDOR / file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, f"{file} differs from the docs table"


def test_every_vendored_file_is_documented_or_a_license() -> None:
    listed = set(documented())
    for path in sorted(p for p in VENDOR.rglob("*") if p.is_file()):
        rel = path.relative_to(VENDOR).as_posix()
        if path.name in LICENSE_NAMES or path.name.endswith(".LICENSE.txt"):
            continue
        assert rel in listed, f"{rel} is vendored but not in docs/web-client.md"


def test_every_vendored_directory_carries_its_license() -> None:
    for directory in (p for p in VENDOR.iterdir() if p.is_dir()):
        assert any((directory / name).is_file() for name in LICENSE_NAMES), directory


def test_the_web_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["api_gateway"]
    web = ROOT / "api_gateway"
    for path in (p for p in (web / "web").rglob("*") if p.is_file()):
        rel = path.relative_to(web)
        assert any(_glob(rel, p) for p in patterns), f"{rel} is not package data"


def test_the_glob_reading_is_setuptools_own() -> None:
    assert _glob(Path("web/static/vendor/redoc/LICENSE"), "web/static/**/*")
    assert _glob(Path("web/static/app.js"), "web/static/**/*")
    assert _glob(Path("web/index.html"), "web/*.html")
    assert not _glob(Path("web/other/x.js"), "web/static/**/*")
    assert not _glob(Path("web/static/x.js"), "web/*.html")


def _glob(rel: Path, pattern: str) -> bool:
    """setuptools' glob: ``**`` spans directories, ``*`` stays within one."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, rel.as_posix()) is not None
