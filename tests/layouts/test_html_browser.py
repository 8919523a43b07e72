"""The HTML board in headless Chromium at 1080x1920: nothing overflows its row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from boardkit import NOW, TZ, dep, stop_departures
from browser import dump_dom, screenshot
from PIL import Image

from layouts.board import BoardInput, DisplaySettings, build_board
from layouts.html import embedded_fonts, render_html
from layouts.spec import load_layout

pytestmark = pytest.mark.browser

GEOMETRY_CHECK = """
<script>
window.addEventListener("load", function () {
  document.fonts.ready.then(function () {
    var screen = document.getElementById("screen").getBoundingClientRect();
    var problems = [];
    document.querySelectorAll(".row").forEach(function (row, i) {
      var box = row.getBoundingClientRect();
      if (box.right > screen.right + 0.5 || box.bottom > screen.bottom + 0.5)
        problems.push("row " + i + " leaves the screen");
      if (row.scrollWidth > row.clientWidth + 1) problems.push("row " + i + " scrolls horizontally");
      row.querySelectorAll("span").forEach(function (cell) {
        var c = cell.getBoundingClientRect();
        if (c.right > box.right + 0.5 || c.left < box.left - 0.5)
          problems.push("row " + i + " cell " + cell.className + " sticks out");
      });
    });
    var out = document.createElement("pre");
    out.id = "geometry";
    out.textContent = JSON.stringify({rows: document.querySelectorAll(".row").length,
                                      fonts: document.fonts.check("700 40px Board"), problems: problems});
    document.body.appendChild(out);
  });
});
</script>
"""


def test_board_fits_at_1080x1920_in_chromium(tmp_path: Path) -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    long = dep(
        "l",
        "51",
        "7A1E99",
        "FFFFFF",
        "Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität und Bretzenheim Bahnstraße",
        3,
    )
    deps = (long,) + stop_departures().departures[1:]
    board = build_board(spec, DisplaySettings(), BoardInput(stop_departures(deps), TZ, realtime_configured=True), NOW)
    page = tmp_path / "board.html"
    page.write_text(render_html(board, spec, embedded_fonts()).replace("</body>", GEOMETRY_CHECK + "</body>"))
    dom = dump_dom(page.as_uri(), 1080, 1920)
    found = re.search(r'<pre id="geometry">(.*?)</pre>', dom)
    assert found, "the geometry check did not run"
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result == {"rows": 12, "fonts": True, "problems": []}
    shot = screenshot(page.as_uri(), tmp_path / "board.png", 1080, 1920)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1080, 1920)
    assert image.getpixel((540, 1000)) == (11, 26, 46)  # the board's background fills the screen
