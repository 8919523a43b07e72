"""The conformance matrix of docs/mqtt.md: every normative statement (must, never, should, may not, is
required) carries an id such as [P-n], and some test names every id, with `@spec("P-n")` (tests/speckit.py)
or `spec: P-n, ...` at the start of a docstring line or in a comment. An id named in prose does not count, nor
does one in this file or in speckit.py."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "mqtt.md"
ID = re.compile(r"\[([A-Z]+-\d+)\]")
NORMATIVE = re.compile(r"\b(must|never|should|may not|is required)\b", re.IGNORECASE)
DECORATOR = re.compile(r"@spec\(([^)]*)\)")
# a docstring line or a comment that says `spec: F-1, F-2` (the convention of the validity and forecast tests)
MARKER = re.compile(
    r'^(?:\s*(?:"""|\'\'\')?\s*|[^\n]*#[^\n]*?)\bspec:\s*([A-Z]+-\d+(?:\s*,\s*[A-Z]+-\d+)*)', re.MULTILINE
)
NAMED = re.compile(r"[A-Z]+-\d+")


def blocks(text: str) -> list[tuple[int, str]]:
    """(line, text) of each paragraph, list item or table row outside code fences."""
    out: list[tuple[int, str]] = []
    fenced, start, lines = False, 0, []  # type: ignore[var-annotated]
    for number, line in enumerate(text.splitlines() + [""], 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        new_item = re.match(r"\s*(- |\d+\. |\|)", line) is not None and not line.startswith("   " * 2)
        if fenced or not line.strip() or new_item or line.startswith("#"):
            if lines:
                out.append((start, " ".join(lines)))
            lines = []
            if fenced or not line.strip() or line.startswith("#"):
                continue
        if not lines:
            start = number
        lines.append(line.strip())
    return out


def sentences(block: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s+(?=[A-Z(\[*`\"])", block) if s]


def doc_ids(text: str) -> list[str]:
    return ID.findall(text)


def test_every_normative_statement_of_the_document_carries_an_id() -> None:
    missing = []
    for line, block in blocks(DOC.read_text()):
        if block.startswith("| offset") or block.startswith("|---"):
            continue
        seen_id = False
        for sentence in sentences(block):
            seen_id = seen_id or ID.search(sentence) is not None
            if NORMATIVE.search(sentence) and not seen_id and "RFC 2119" not in sentence:
                missing.append(f"docs/mqtt.md:{line}: {sentence[:100]}")
    assert not missing, "normative statements without an id:\n" + "\n".join(missing)


def test_every_id_is_defined_once() -> None:
    ids = doc_ids(DOC.read_text())
    assert ids, "docs/mqtt.md names no statement ids"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids defined more than once: {duplicates}"


def named_by_tests() -> dict[str, set[str]]:
    """id -> the test files that name it."""
    named: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name in (Path(__file__).name, "speckit.py"):
            continue
        source = path.read_text()
        for match in [*DECORATOR.finditer(source), *MARKER.finditer(source)]:
            for found in NAMED.findall(match.group(1)):
                named.setdefault(found, set()).add(path.name)
    return named


def test_every_statement_is_named_by_a_test() -> None:
    named = named_by_tests()
    untested = [i for i in doc_ids(DOC.read_text()) if i not in named]
    assert not untested, f"statements of docs/mqtt.md no test names (@spec or 'spec:'): {untested}"


def test_tests_name_only_statements_the_document_has() -> None:
    ids = set(doc_ids(DOC.read_text()))
    unknown = {i: sorted(files) for i, files in named_by_tests().items() if i not in ids}
    assert not unknown, f"tests name ids docs/mqtt.md does not define: {unknown}"
