"""Small modules and short functions in the four packages (issue 27): no module over 400 lines, no function
over 50. A ratchet: the ones still over are listed below with their sizes today; the test fails when one of
them grows or a new one appears, so the list only shrinks (remove an entry once its module or function is
within the limit)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("feeds", "layouts", "displays", "firmware_bridge")
MODULE_LINES = 400
FUNCTION_LINES = 50

# Still over the limits (path -> lines; (path, function) -> lines); never add to these.
LONG_MODULES: dict[str, int] = {}
LONG_FUNCTIONS: dict[tuple[str, str], int] = {}


def sizes() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Lines of every module over MODULE_LINES and of every function over FUNCTION_LINES (from its first
    decorator to its last line; a nested function counts on its own and within its parent)."""
    modules: dict[str, int] = {}
    functions: dict[tuple[str, str], int] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            text = path.read_text()
            if len(text.splitlines()) > MODULE_LINES:
                modules[name] = len(text.splitlines())
            for node in ast.walk(ast.parse(text, name)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                    lines = (node.end_lineno or node.lineno) - first + 1
                    if lines > FUNCTION_LINES:
                        key = (name, node.name)
                        functions[key] = max(lines, functions.get(key, 0))
    return modules, functions


def test_no_module_or_function_grows_past_the_limits() -> None:
    modules, functions = sizes()
    grown = {name: lines for name, lines in modules.items() if lines > LONG_MODULES.get(name, MODULE_LINES)}
    grown_functions = {
        key: lines for key, lines in functions.items() if lines > LONG_FUNCTIONS.get(key, FUNCTION_LINES)
    }
    assert grown == {}, f"modules over {MODULE_LINES} lines (or longer than listed): {grown}"
    assert grown_functions == {}, f"functions over {FUNCTION_LINES} lines (or longer than listed): {grown_functions}"
