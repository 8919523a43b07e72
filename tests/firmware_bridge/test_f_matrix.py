"""Every normative statement of docs/mqtt.md tagged [F-n] (validity, forecast, memory) is named by at least one
test (`spec: F-n` in its docstring or a comment), and every id a test names exists in the document."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _named() -> set[str]:
    named: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for match in re.finditer(r"spec: ((?:F-\d+(?:, )?)+)", path.read_text()):
            named.update(re.findall(r"F-\d+", match.group(1)))
    return named


def test_every_f_statement_has_a_test_and_every_named_id_exists() -> None:
    stated = re.findall(r"\[(F-\d+)\]", (ROOT / "docs" / "mqtt.md").read_text())
    assert len(stated) == len(set(stated)), "an id is used twice"
    assert stated, "no [F-n] statements found"
    named = _named()
    assert not set(stated) - named, f"statements no test names: {sorted(set(stated) - named)}"
    assert not named - set(stated), f"tests name ids the document lacks: {sorted(named - set(stated))}"
