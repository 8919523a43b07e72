"""Names the normative statements of docs/mqtt.md a test checks: `@spec("P-n", ...)` above a test, n a number.

tests/firmware_bridge/test_spec_matrix.py reads every `[P-n]`, `[F-n]`, `[S-n]` ... id of the document and
fails when no test names it, either with this decorator or with `spec:` and the ids (`spec: F-1, F-2`) at the
start of a docstring line or in a comment; an id anywhere else (prose, a string) does not count."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def spec(*ids: str) -> Callable[[F], F]:
    """Mark a test as checking the statements `ids` of docs/mqtt.md (kept on the function as `spec_ids`)."""
    if not ids:
        raise ValueError("@spec needs at least one statement id")

    def mark(test: F) -> F:
        test.spec_ids = (*getattr(test, "spec_ids", ()), *ids)  # type: ignore[attr-defined]
        return test

    return mark
