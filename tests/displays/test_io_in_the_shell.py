"""Only the shell builds I/O (issue 27): no module of displays/ outside displays/shell/ constructs a socket, an
HTTP session or server, a subprocess, a state store or a clock; they get what they need from the shell
(displays/shell/wiring.py builds every adapter). Read from the AST, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILDERS = {  # what constructs I/O: a class or function name, called directly or as module.name
    "ClientSession", "AppRunner", "TCPSite", "socket", "create_connection", "Popen", "create_subprocess_exec",
    "create_subprocess_shell", "SqliteStore", "SharedState", "SharedStore", "SystemClock", "StartedClock",
    "ProcessPoolExecutor", "MqttLink", "FeedPoller", "EncoderPool",
}
MODULE_CALLS = {("subprocess", "run"), ("subprocess", "call"), ("subprocess", "check_output"), ("sqlite3", "connect"),
                ("psycopg", "connect")}


def builders_in(path: Path) -> list[str]:
    """`name (line)` of every call in `path` that constructs I/O."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILDERS:
            found.append(f"{func.id} (line {node.lineno})")
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else ""
            if func.attr in BUILDERS or owner in BUILDERS or (owner, func.attr) in MODULE_CALLS:
                found.append(f"{owner}.{func.attr} (line {node.lineno})")
    return found


def test_the_finder_sees_a_session_and_a_store(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    s = aiohttp.ClientSession()\n    return SqliteStore.in_folder(None)\n")
    assert builders_in(source) == ["aiohttp.ClientSession (line 2)", "SqliteStore.in_folder (line 3)"]


def test_no_module_outside_the_shell_constructs_io() -> None:
    outside = [p for p in sorted((ROOT / "displays").rglob("*.py")) if "shell" not in p.relative_to(ROOT).parts]
    found = {p.relative_to(ROOT).as_posix(): b for p in outside if (b := builders_in(p))}
    assert found == {}
