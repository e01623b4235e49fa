"""No production function runs past 80 lines unless a comment says why it reads best whole.

The reason goes in a comment starting ``# long:`` in the comment block right
above the ``def`` (above its decorators, if any) or on the ``def`` line itself::

    # long: one table of every field, in proto order; split, it would hide a field
    def product_proto(...):

Production code is every service package, ``shared``, ``api_gateway`` and
``microfinance_cli``; the generated ``microfinance`` package is left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80
MARKER = re.compile(r"#\s*long:\s*(\S.{9,})")


def production_packages() -> list[Path]:
    return sorted(
        p
        for p in ROOT.iterdir()
        if (p / "__init__.py").is_file()
        and (p.name.endswith("_service") or p.name in ("shared", "api_gateway", "microfinance_cli"))
    )


def production_files() -> Iterator[Path]:
    for package in production_packages():
        yield from sorted(package.rglob("*.py"))


def _reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The ``# long:`` reason at the def line or in the comments just above it."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    found = MARKER.search(lines[node.lineno - 1])
    if found:
        return found.group(1)
    index = first - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        found = MARKER.search(lines[index])
        if found:
            return found.group(1)
        index -= 1
    return None


def long_functions(source: str, name: str) -> list[str]:
    """``file:line name (N lines)`` for every function too long and without a reason."""
    lines = source.splitlines()
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        if length > MAX_LINES and _reason(lines, node) is None:
            found.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_production_code_has_no_long_function_without_a_reason() -> None:
    offenders = [
        offender
        for path in production_files()
        for offender in long_functions(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offenders == [], (
        f"functions over {MAX_LINES} lines: split them at their seams, or say why one reads "
        f"best whole in a '# long: <reason>' comment right above its def"
    )


def test_the_walk_covers_the_production_packages() -> None:
    names = {p.name for p in production_packages()}
    assert {"shared", "api_gateway", "microfinance_cli", "loan_service", "user_service"} <= names
    assert "microfinance" not in names  # generated protobuf code
    assert "tests" not in names


def _function(body_lines: int, above: str = "", on_def: str = "", decorator: bool = False) -> str:
    head = [above] if above else []
    if decorator:
        head.append("@staticmethod")
    head.append(f"def f() -> None:{on_def}")
    return "\n".join([*head, *["    pass"] * (body_lines - 1)]) + "\n"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        (_function(MAX_LINES), False),
        (_function(MAX_LINES + 1), True),
        (_function(MAX_LINES + 1, above="# long: one table, in the order of the spec"), False),
        (_function(MAX_LINES + 1, on_def="  # long: one table, in the order of the spec"), False),
        (
            _function(
                MAX_LINES + 1, above="# long: one table, in the order of the spec", decorator=True
            ),
            False,
        ),
        # A marker without a reason, or another comment, is not a reason.
        (_function(MAX_LINES + 1, above="# long:"), True),
        (_function(MAX_LINES + 1, above="# this one is long"), True),
    ],
)
def test_a_long_function_fails_unless_a_comment_gives_its_reason(
    source: str, flagged: bool
) -> None:
    assert bool(long_functions(source, "example.py")) is flagged


def test_nested_functions_and_methods_are_measured_too() -> None:
    inner = "\n".join("    " + line for line in _function(MAX_LINES + 1).splitlines())
    found = long_functions(f"class C:\n{inner}\n", "example.py")
    assert found == ["example.py:2 f (81 lines)"]


def test_a_reason_above_a_blank_line_does_not_count() -> None:
    source = "# long: one table, in the order of the spec\n\n" + _function(MAX_LINES + 1)
    assert long_functions(source, "example.py") == ["example.py:3 f (81 lines)"]
