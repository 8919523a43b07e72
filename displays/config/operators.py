"""[[http.operators]]: admin tokens by name, so that the audit log says who made each change."""

from __future__ import annotations

import os
from typing import Any

from layouts.validation import ConfigError, Fields

__all__ = ["parse_operators"]


def parse_operators(raw: Any, source: str) -> tuple[tuple[str, str], ...]:
    """[[http.operators]] name = "alice", token_env = "STOPCAST_TOKEN_ALICE": named admin tokens (the audit log
    records the name). The token is read from the environment only, never written in the file."""
    if not isinstance(raw, list):
        raise ConfigError(source, 'must be an array of tables [[http.operators]] with name and token_env',
                          field_name="http.operators")
    out: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        label = f"http.operators[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(source, "must be a table with name and token_env", field_name=label)
        v = Fields(source, item, {"name": "", "token_env": ""}, prefix=f"{label}.")
        v.only({"name", "token_env"})
        name, env = v.string("name", required=True), v.string("token_env", required=True)
        if not (0 < len(name) <= 64 and name.isprintable()) or name == "admin":
            raise v.fail("name", f"must be 1 to 64 printable characters and not 'admin', got {name[:80]!r}")
        if name in (n for n, _ in out):
            raise v.fail("name", f"operator {name!r} is named twice")
        token = os.environ.get(env, "")
        if not token:
            raise v.fail("token_env", f"the environment variable {env!r} is not set or empty (operator {name!r})")
        if token in (t for _, t in out):
            raise v.fail("token_env", f"operator {name!r} has the same token as another: each needs its own")
        out.append((name, token))
    return tuple(out)
