"""The board model as JSON (the `board` topic and board.json), for pillars that draw themselves."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .board import Board
from .spec import LayoutSpec


def board_doc(board: Board, spec: LayoutSpec, display_id: str) -> dict[str, Any]:
    """The board as a JSON-ready dict, with the layout it was made for."""
    doc = asdict(board)
    doc["display_id"] = display_id
    doc["layout"] = {"name": spec.name, "width": spec.width, "height": spec.height, "color_mode": spec.color_mode}
    return doc


def board_json(board: Board, spec: LayoutSpec, display_id: str) -> bytes:
    """The board as compact UTF-8 JSON."""
    return json.dumps(board_doc(board, spec, display_id), ensure_ascii=False, separators=(",", ":")).encode()
