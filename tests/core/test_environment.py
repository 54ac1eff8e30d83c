"""settings.py is the only reader of the environment: an AST scan of src/ finds no other access to
os.environ, os.getenv, os.putenv or a Settings' raw environment."""

from __future__ import annotations

import ast
from pathlib import Path

import crmsync

SRC = Path(crmsync.__file__).parent
ALLOWED = {SRC / "settings.py"}  # the sandbox has no environment of its own to read (none found)


def environment_reads(tree: ast.AST) -> list[int]:
    """Lines of `tree` that touch the process environment: `os.environ`, `os.getenv(…)`, `os.putenv`,
    `from os import environ/getenv`, `getattr(os, "environ")`, or any `.environ` attribute."""
    found: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "environb", "getenv", "putenv", "unsetenv"}:
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in {"environ", "environb", "getenv", "putenv"} for alias in node.names):
                found.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and any(isinstance(a, ast.Constant) and a.value in {"environ", "getenv"} for a in node.args)
        ):
            found.append(node.lineno)
    return found


def test_no_module_but_settings_reads_the_environment() -> None:
    """Every module of src/crmsync but settings.py is free of environment reads."""
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in ALLOWED
        for line in environment_reads(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_scan_finds_each_way_of_reading_the_environment() -> None:
    """The scan is not vacuous: each form of access is reported, plain code is not."""
    samples = [
        "import os\nos.environ['X']",
        "import os\nos.getenv('X')",
        "from os import environ",
        "from os import getenv as g",
        "getattr(os, 'environ')",
        "settings.environ.get('X')",
    ]
    assert all(environment_reads(ast.parse(code)) for code in samples)
    assert environment_reads(ast.parse("env = {'X': '1'}\nenv.get('X')")) == []
