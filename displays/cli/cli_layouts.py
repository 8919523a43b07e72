"""`stopcast layouts`: the built-in layouts listed, one printed as an editable file, or their legibility
checked (with the feed's line labels against the badges)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from feeds.cache import default_cache_dir, open_timetable
from layouts.spec import LayoutSpec, builtin_names, builtin_text, load_layout

__all__ = ["cmd_layouts", "layout_json"]


def cmd_layouts(args: argparse.Namespace) -> int:
    """List the built-in layouts, print one as an editable file, or check their legibility."""
    if args.check is not None:
        return _check_layouts(args.check, args.format, args.gtfs)
    if args.show:
        spec = load_layout(args.show)  # validates, and names the file on error
        print(builtin_text(args.show) if spec.source.startswith("built-in") else Path(args.show).read_text(), end="")
        return 0
    specs = [load_layout(name) for name in builtin_names()]
    if args.format == "json":
        json.dump([layout_json(s) for s in specs], sys.stdout, indent=2)
        print()
        return 0
    rows = [("Name", "Size", "Colour", "Rows", "Language", "Description")]
    rows += [(s.name, f"{s.width}x{s.height}", s.color_mode, str(s.rows), s.language, s.description) for s in specs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


def _check_layouts(name: str, fmt: str, gtfs: str | None = None) -> int:
    """`layouts --check [NAME] [--gtfs FEED]`: the legibility of one layout or of every built-in, and whether
    its badges hold the feed's line labels; 1 when one fails."""
    from dataclasses import replace

    from layouts.labels import labels_that_do_not_fit
    from layouts.legibility import check_legibility, legibility_doc, legibility_text

    results = [check_legibility(load_layout(n)) for n in ([name] if name else builtin_names())]
    if gtfs:
        tt = open_timetable(gtfs, default_cache_dir())
        routes = [(r.route_id, r.short_name, r.long_name) for r in tt.routes]
        for i, result in enumerate(results):
            wide = labels_that_do_not_fit(load_layout(name or result.layout), routes)
            if wide:
                problem = (f"line labels wider than its badges can be: {', '.join(repr(w) for w in wide)} (set "
                           "route_labels per display)")
                results[i] = replace(result, ok=False, problems=(*result.problems, problem))
    if fmt == "json":
        docs = [legibility_doc(r) for r in results]
        json.dump(docs[0] if name else docs, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print("\n\n".join(legibility_text(r) for r in results))
    return 0 if all(r.ok for r in results) else 1


def layout_json(spec: LayoutSpec) -> dict[str, object]:
    """A layout's summary for `layouts --format json`."""
    return {
        "name": spec.name,
        "description": spec.description,
        "width": spec.width,
        "height": spec.height,
        "color_mode": spec.color_mode,
        "orientation": spec.orientation,
        "rotate": spec.rotate,
        "rows": spec.rows,
        "columns": [c.kind for c in spec.columns],
        "font_family": spec.font_family,
        "language": spec.language,
        "page_seconds": spec.page_seconds,
        "countdown_max": spec.countdown_max,
    }
