"""The board model as JSON (the `board` topic and board.json), for pillars that draw themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from .board import Board, BoardRow
from .drawn import drawn
from .spec import LayoutSpec

# the last two left out: what speech says in other languages (the board shows alert_pages)
_BOARD_FIELDS = tuple(f.name for f in fields(Board) if f.name not in ("rows", "alerts", "notice_texts"))
_ROW_FIELDS = tuple(f.name for f in fields(BoardRow))


def board_doc(
    board: Board, spec: LayoutSpec, display_id: str, drawn_items: Sequence[dict] | None = None
) -> dict[str, Any]:
    """The board as a JSON-ready dict, with the layout it was made for and what it draws (`drawn_items` when
    the render worker made them already)."""
    doc: dict[str, Any] = {name: getattr(board, name) for name in _BOARD_FIELDS}
    doc["rows"] = [{name: getattr(row, name) for name in _ROW_FIELDS} for row in board.rows]
    doc["display_id"] = display_id
    doc["layout"] = {"name": spec.name, "width": spec.width, "height": spec.height, "color_mode": spec.color_mode}
    doc["drawn"] = list(drawn_items) if drawn_items is not None else drawn(board, spec)
    return doc


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def drawn_json(items: Sequence[dict]) -> bytes:
    """board.json's `drawn` list as its compact JSON text (what board_json writes for it)."""
    return _compact(list(items))


def board_json(board: Board, spec: LayoutSpec, display_id: str, drawn_items: Sequence[dict] | bytes | None = None
               ) -> bytes:
    """The board as compact UTF-8 JSON. `drawn_items` may be the `drawn` list's JSON text already (drawn_json, as
    a render worker makes it): it is then put in as it is, the same bytes as from the list."""
    if not isinstance(drawn_items, bytes):
        return _compact(board_doc(board, spec, display_id, drawn_items))
    head = _compact(board_doc(board, spec, display_id, ()))  # `drawn` is the document's last member
    assert head.endswith(b',"drawn":[]}')
    return head[: -len(b"[]}")] + drawn_items + b"}"
