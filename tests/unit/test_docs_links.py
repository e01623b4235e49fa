"""The design lives in docs/: code cites its sections by heading, and the docs link to each
other by anchor. Both must keep pointing at something that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SOURCE_DIRS = (
    "api_gateway",
    "auth_service",
    "user_service",
    "loan_service",
    "payment_service",
    "reporting_service",
    "shared",
    "microfinance_cli",
    "bench",
    "scripts",
    "tests",
)
CITATION = re.compile(r"docs/design\.md: ([^)]+)\)")
LINK = re.compile(r"\]\(([\w./-]*\.md)?#([\w-]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)]


def python_files() -> list[Path]:
    return [
        path
        for name in SOURCE_DIRS
        if (ROOT / name).is_dir()
        for path in sorted((ROOT / name).rglob("*.py"))
    ]


def test_no_code_cites_the_brief() -> None:
    """The brief is not in the repository; the design is docs/design.md."""
    citing = [
        str(path.relative_to(ROOT))
        for path in [*python_files(), *DOCS.glob("*.md")]
        if path != Path(__file__).resolve() and "DESIGN.md" in path.read_text(encoding="utf-8")
    ]
    assert citing == []


def test_design_citations_name_existing_sections() -> None:
    known = set(headings(DOCS / "design.md"))
    cited: list[tuple[str, str]] = []
    for path in python_files():
        if path == Path(__file__).resolve():
            continue
        text = " ".join(path.read_text(encoding="utf-8").split())
        for match in CITATION.finditer(text):
            cited += [(str(path.relative_to(ROOT)), h.strip()) for h in match.group(1).split(";")]
    assert len(cited) >= 5, "the domain and benchmark docstrings cite the design"
    missing = [(where, h) for where, h in cited if h not in known]
    assert missing == [], f"no such heading in docs/design.md: {missing}"


def test_doc_anchors_resolve() -> None:
    anchors = {page.name: {anchor(h) for h in headings(page)} for page in DOCS.glob("*.md")}
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target, fragment in LINK.findall(text):
            name = Path(target).name if target else page.name
            if fragment not in anchors.get(name, set()):
                broken.append(f"{page.name} -> {target or page.name}#{fragment}")
    assert broken == []
