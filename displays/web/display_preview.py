"""What a display would show with a change, before it is saved: the admin API's `?preview=1` on
POST/PUT /api/displays (validated like the change itself; nothing is written, published or audited)."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from typing import Any

from displays.config.model import ConfigError, layout_of
from displays.config.parse import parse_display
from displays.core.frames import Rendered, render_batch
from displays.ops.admin import AdminError
from displays.ops.config_edit import display_doc
from displays.web.view import Node

__all__ = ["preview_display"]


async def preview_display(service: Node, body: Any, display_id: str | None = None) -> dict[str, Any]:
    """The display in `body` rendered now as PNG (AdminError 4xx naming the field when it would be refused)."""
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object with the display's fields")
    if display_id is not None and body.setdefault("id", display_id) != display_id:
        raise AdminError(400, f"the body's id '{body['id']}' does not match the URL's '{display_id}'")
    config = service.config
    try:
        display = parse_display(body, "request body", config)
        service.check_stops(replace(config, displays=(display,)), "request body")
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    now = int(service.clock.now())
    spec = layout_of(config, display)
    try:
        board = service.compose(display, spec, now, service.live_state(now), service.editorial.current(now))
    except Exception as exc:  # noqa: BLE001 - a board that cannot be composed is the preview's answer, not a 500
        raise AdminError(422, f"its board could not be composed: {type(exc).__name__}: {exc}") from None
    rendered = (await asyncio.to_thread(render_batch, [(board, spec, "png", False)]))[0]
    if not isinstance(rendered, Rendered):
        raise AdminError(422, f"its board could not be rendered: {rendered}")
    return {"preview": True, "saved": False, "display": display_doc(display), "width": spec.width,
            "height": spec.height, "png": "data:image/png;base64," + base64.b64encode(rendered.full_body).decode()}
