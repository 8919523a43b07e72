"""Every module of the four packages imports in the test environment.

Commands import some modules lazily, so an undeclared dependency would otherwise surface only when
a user runs that command on a fresh machine.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("feeds", "layouts", "displays", "firmware_bridge")


def all_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", all_modules())
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_every_third_party_import_is_declared() -> None:
    """Each top-level third-party import belongs to a distribution listed in pyproject's dependencies."""
    import ast
    import re
    import sys

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    declared = {norm(re.split(r"[ <>=!~;\[]", d, maxsplit=1)[0]) for d in deps}
    owners = packages_distributions()
    missing = {}
    for package in PACKAGES:
        for file in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES or top == "__future__":
                        continue
                    if not {norm(d) for d in owners.get(top, [top])} & declared:
                        missing[top] = str(file.relative_to(ROOT))
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_names_its_public_face(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package}.__all__ is empty"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
