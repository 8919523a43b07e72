"""The live page in headless Chromium: the read-aloud buttons never cover the board, no text is cut off
(ellipsis) or leaves the screen, no two texts overlap: every built-in layout, a stress board."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import dump_dom
from test_drawn import LABELS, _stress

from layouts.board import DisplaySettings
from layouts.html import embedded_fonts, render_html
from layouts.spec import builtin_names, load_layout

PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var screen = document.getElementById("screen").getBoundingClientRect(), out = {screen: [screen.left, screen.top,
      screen.right, screen.bottom], buttons: [], texts: [], cut: []};
  document.querySelectorAll("#speak button").forEach(function (b) { var r = b.getBoundingClientRect();
    out.buttons.push([r.left, r.top, r.right, r.bottom]); });
  var walker = document.createTreeWalker(document.getElementById("screen"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) { var node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || el.closest("[hidden]")) { continue; }
    var range = document.createRange(); range.selectNodeContents(node);
    var r = range.getBoundingClientRect();  // one box per text (a line box of its own each)
    if (r.width > 0) { out.texts.push([r.left, r.top, r.right, r.bottom, node.textContent.trim()]); }
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).textOverflow === "ellipsis") { out.cut.push(node.textContent.trim()); } }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
}, 300); });
</script>"""


def _probe(tmp_path: Path, html: str, width: int, height: int) -> dict:
    page = tmp_path / "board.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = dump_dom(page.as_uri(), width, height)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def _overlap(a: list, b: list, slack: float = 0.5) -> bool:
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


# every layout with the long board; the alert area (the 1080x1920 ticker's last line, the TFT's legend below it)
# and a paged takeover where the issue saw them hidden or cut
CASES = [(name, "long") for name in builtin_names()] + [
    ("lcd-portrait-1080x1920", "alerts8"), ("tft-320x240", "alerts8"), ("led-192x64", "takeover"),
    ("lcd-landscape-1920x1080", "takeover")]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_the_live_page_shows_everything_and_the_buttons_cover_nothing(name: str, kind: str, tmp_path: Path) -> None:
    spec = load_layout(name)
    board = _stress(kind, spec, DisplaySettings(route_labels=LABELS, language="en"))
    width, height = (spec.height, spec.width) if spec.rotate in (90, 270) else (spec.width, spec.height)
    zoom = max(1, 800 // width)  # a small panel's page is looked at in a window a few times its size
    width, height = width * zoom, height * zoom
    seen = _probe(tmp_path, render_html(board, spec, embedded_fonts(), speech_url="/displays/x/speech.wav"), width, height)
    assert seen["buttons"] and all(not _overlap(b, seen["screen"]) for b in seen["buttons"]), seen
    assert "Vorlesen" not in json.dumps(seen)  # an English board's buttons are English
    screen = seen["screen"]
    for text in seen["texts"]:
        assert screen[0] - 1 <= text[0] and text[2] <= screen[2] + 1 and screen[1] - 1 <= text[1] and text[3] <= screen[3] + 1, text
    for i, a in enumerate(seen["texts"]):
        for b in seen["texts"][i + 1 :]:
            assert not _overlap(a, b), f"{a} overlaps {b}"
    assert seen["cut"] == [], f"cut with an ellipsis on the live page: {seen['cut']}"
