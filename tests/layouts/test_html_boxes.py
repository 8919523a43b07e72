"""The live page in headless Chromium, on the same boards as the drawn-list checks (tests/layouts/test_drawn.py):
every built-in layout x the stress boards (long destinations, a cancellation, a platform change, 8 alerts, a
takeover, night, an expired timetable) and x the real feeds (BART with its alert, Caltrain, HART, WMATA). On
every page of a paged alert or takeover: the read-aloud buttons never cover the board, no text is cut off (CSS
ellipsis), leaves its cell or the screen, and no two texts overlap; every word of a takeover is on one of its
pages. One browser shows all the pages, one after another (a few seconds in all)."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path

import pytest
from browser import Page, chromium
from test_drawn import LABELS, STRESS, _feed_board, _stress

from layouts.board import Board, DisplaySettings
from layouts.fit import abbreviations
from layouts.html import embedded_fonts, render_html
from layouts.spec import LayoutSpec, builtin_names, load_layout

FEEDS = ("bart", "caltrain", "hart", "wmata")
CASES = [(name, kind) for name in builtin_names() for kind in (*STRESS, *FEEDS)]

# Measures the page in each of its states: every page of the alert area or takeover shown in turn.
PROBE = """(async function () {
  await document.fonts.ready;
  var screen = document.getElementById("screen");
  var scale = screen.getBoundingClientRect().width / screen.offsetWidth;
  function box(r) { return [r.left, r.top, r.right, r.bottom]; }
  function texts() {
    var out = [], walker = document.createTreeWalker(screen, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      var node = walker.currentNode, el = node.parentElement;
      if (!node.textContent.trim() || el.closest("[hidden]")) { continue; }
      var range = document.createRange(); range.selectNodeContents(node);
      var r = range.getBoundingClientRect(), cell = el.closest(".row > span");
      // each line's em box: where the glyphs are (a line box adds the font's ascent and descent room above and
      // below, which a 12 px LED row or header does not have and need not: nothing is drawn there)
      var lines = range.getClientRects().length || 1, em = parseFloat(getComputedStyle(el).fontSize) * scale;
      var spill = Math.max(0, (r.height / lines - em) / 2);
      if (r.width > 0) {
        out.push({box: [r.left, r.top + spill, r.right, r.bottom - spill], text: node.textContent.trim(),
                  cell: cell ? box(cell.getBoundingClientRect()) : null,
                  cut: el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).textOverflow === "ellipsis"});
      }
    }
    return out;
  }
  var paged = Array.prototype.slice.call(screen.querySelectorAll(".alerts p, .takeover p"));
  var takeover = Array.prototype.map.call(screen.querySelectorAll(".takeover p"), function (p) {
    return Array.prototype.map.call(p.childNodes, function (n) { return n.textContent; }).join(" "); });
  var states = [];
  (paged.length ? paged : [null]).forEach(function (shown) {
    paged.forEach(function (p) { p.hidden = p !== shown; });
    states.push(texts());
  });
  var buttons = Array.prototype.map.call(document.querySelectorAll("#speak button"),
                                         function (b) { return box(b.getBoundingClientRect()); });
  return JSON.stringify({screen: box(screen.getBoundingClientRect()), buttons: buttons, states: states,
                         takeover: takeover});
})()"""


def _board(name: str, kind: str) -> tuple[LayoutSpec, Board]:
    spec = load_layout(name)
    if kind in FEEDS:
        return spec, _feed_board(kind, spec, labels=())
    return spec, _stress(kind, spec, DisplaySettings(route_labels=LABELS, language="en"))


@cache
def _seen(folder: Path) -> dict[tuple[str, str], dict]:
    """Every case's page, measured in one headless Chromium."""
    chromium()
    fonts = embedded_fonts()
    pages = []
    for name, kind in CASES:
        spec, board = _board(name, kind)
        width, height = (spec.height, spec.width) if spec.rotate in (90, 270) else (spec.width, spec.height)
        zoom = max(1, 800 // width)  # a small panel's page is looked at in a window a few times its size
        path = folder / f"{name}-{kind}.html"
        path.write_text(render_html(board, spec, fonts, speech_url="/displays/x/speech.wav"), encoding="utf-8")
        pages.append(((name, kind), path.as_uri(), width * zoom, height * zoom))

    async def run() -> dict[tuple[str, str], dict]:
        seen = {}
        async with Page("about:blank", 800, 600) as page:
            for key, url, width, height in pages:
                await page.goto(url, width, height)
                seen[key] = json.loads(str(await page.evaluate(PROBE)))
        return seen

    return asyncio.run(run())


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    return _seen(tmp_path_factory.mktemp("pages"))


def _overlap(a: list, b: list, slack: float = 0.5) -> bool:
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


def _inside(a: list, b: list, slack: float = 1) -> bool:
    return b[0] - slack <= a[0] and a[2] <= b[2] + slack and b[1] - slack <= a[1] and a[3] <= b[3] + slack


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_the_live_page_shows_everything_and_the_buttons_cover_nothing(name: str, kind: str, seen: dict) -> None:
    page = seen[(name, kind)]
    screen = page["screen"]
    assert page["buttons"] and all(not _overlap(b, screen) for b in page["buttons"]), page["buttons"]
    assert "Vorlesen" not in json.dumps(page)  # an English board's buttons are English
    for state in page["states"]:
        for text in state:
            assert _inside(text["box"], screen), f"{text} leaves the screen {screen}"
            assert text["cell"] is None or _inside(text["box"], text["cell"]), f"{text} leaves its cell"
            assert not text["cut"], f"cut with an ellipsis on the live page: {text}"
        for i, a in enumerate(state):
            for b in state[i + 1 :]:
                assert not _overlap(a["box"], b["box"]), f"{a} overlaps {b}"
    if kind == "takeover":
        spec, board = _board(name, kind)
        shown = {w for p in page["takeover"] for w in p.split()}
        for word in board.takeover_text.split():
            assert word in shown or any(f in shown for f in abbreviations(word)), (
                f"takeover word {word!r} is on no page"
            )
