"""Texts that take more than their area, in pages: alerts (deduplicated, the most disruptive first, capped on
small layouts with a "+N more" page) and ops takeovers (every word on some page, never an ellipsis)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from PIL import ImageFont

from feeds.alerts import ShownAlert

from .fit import fit, fits_whole, width_of, wrap
from .fonts import font
from .geometry import Box, geometry, takeover_area
from .spec import LayoutSpec
from .texts import clean, text

MAX_ALERT_CHARS = 2000  # of an alert's header and of its description on a board
# GTFS-Realtime effects, most disruptive first: a stop or line without service, a moved stop, a detour,
# then the rest in the feed's order (by severity).
EFFECT_ORDER = {"NO_SERVICE": 0, "STOP_MOVED": 1, "DETOUR": 2, "REDUCED_SERVICE": 3, "SIGNIFICANT_DELAYS": 4,
                "MODIFIED_SERVICE": 5, "ACCESSIBILITY_ISSUE": 6}
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[A-ZÄÖÜ0-9\"„(¿¡])|\s+(?=[–—]\s)")  # not after "St." in "St. on the"
_FOLD = re.compile(r"[\W_]+")


def _folded(value: str) -> str:
    return _FOLD.sub(" ", value.casefold()).strip()


@lru_cache(maxsize=4096)
def alert_text(alert: ShownAlert) -> str:
    """A feed alert as one text: its header, then its description; a header that the description repeats
    (BART's "Linie 54" – "Linie 54: ...", or the same sentence twice) is said once."""
    header, description = clean(alert.header, MAX_ALERT_CHARS), clean(alert.description, MAX_ALERT_CHARS)
    if not description or _folded(description) == _folded(header):
        return header or description
    if not header or _folded(description).startswith(_folded(header)):
        return description
    if _folded(header).startswith(_folded(description)):
        return header
    return f"{header} – {description}"


@lru_cache(maxsize=2048)
def alert_texts(notices: tuple[str, ...], alerts: tuple[ShownAlert, ...]) -> tuple[str, ...]:
    """What the alert area says, in order: ops messages first, then the feed's alerts by effect (no service,
    moved stops and detours before the rest); a text that another already says is left out. (Cached: the
    same alerts reach many boards, minute after minute.)"""
    ordered = sorted(alerts, key=lambda a: EFFECT_ORDER.get(a.effect, len(EFFECT_ORDER)))  # stable: severity stays
    out: list[str] = []
    seen: set[str] = set()
    for body in [clean(n, MAX_ALERT_CHARS) for n in notices] + [alert_text(a) for a in ordered]:
        key = _folded(body)
        if body and key not in seen:
            seen.add(key)
            out.append(body)
    return tuple(out)


@lru_cache(maxsize=2048)
def alert_pages(spec: LayoutSpec, texts: tuple[str, ...], language: str = "de") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the pages a display cycles through, every page): texts cut into pages of the alert area's lines,
    each text starting a page, pages broken between sentences, else clauses, else lines. A layout with
    `alert_pages_max` shows the whole alerts that fit that many pages and then one page "+N more notices"
    (the first alert is shown whole however long it is). (Cached: the same alerts reach many boards.)"""
    if not texts or not spec.alert_lines:
        return (), ()
    geo = geometry(spec)
    small = font(spec.font_family, spec.small_size)
    for widest in ("9/9", "99/99", "999/999"):  # room for the page counter, as wide as the page count needs
        counter = width_of(widest, small) + geo.pad
        width = (geo.alerts.w if geo.alerts else spec.width) - 3 * geo.pad - spec.small_size - counter

        def fits(candidate: str, width: int = width) -> bool:
            return len(wrap(candidate, small, width)) <= spec.alert_lines

        per_text = [pack(body, fits, small, width, spec.alert_lines) for body in texts]
        every = [page for pages in per_text for page in pages]
        if len(f"{len(every)}/{len(every)}") <= len(widest):
            break
    shown = _capped(spec, per_text, language, fits)
    lines = tuple("\n".join(wrap(page, small, width)) for page in every)
    return (tuple("\n".join(wrap(page, small, width)) for page in shown) if shown != every else lines), lines


def more_alerts(language: str, rest: int) -> str:
    """ "+3 more notices" in the board's language."""
    return text(language, "more_alert") if rest == 1 else text(language, "more_alerts", n=rest)


def _capped(spec: LayoutSpec, per_text: list[list[str]], language: str, fits: Callable[[str], bool]) -> list[str]:
    cap = spec.alert_pages_max
    every = [page for pages in per_text for page in pages]
    if not cap or len(every) <= cap:
        return every
    shown: list[str] = []
    for i, pages in enumerate(per_text):
        if i and len(shown) + len(pages) > cap - 1:
            rest = len(per_text) - i
            more = more_alerts(language, rest)
            return [*shown, more if fits(more) else f"+{rest}"]
        shown += pages
    return shown


def pack(text_: str, fits: Callable[[str], bool], fnt: ImageFont.FreeTypeFont, width: int, lines: int) -> list[str]:
    """Pages of `text_`: as many whole sentences as fit a page; a sentence that does not fit alone is paged
    where it reads best (`_phrased`: after a clause, before "at", "due to", "wegen", ...; never after "the")."""
    if fits(text_):
        return [text_]
    pages: list[str] = []
    current = ""
    for sentence in (u for u in _SENTENCE_END.split(text_) if u):
        candidate = f"{current} {sentence}".strip()
        if fits(candidate):
            current = candidate
            continue
        if current:
            pages.append(current)
        current = ""
        if fits(sentence):
            current = sentence
        else:
            pages += _phrased(sentence, fits) or _lines(sentence, fnt, width, lines)
    if current:
        pages.append(current)
    return pages


# Words a page may start with (a phrase of its own: "at Montgomery St.", "due to a medical emergency") and
# words it must not end with ("the", "der": what follows belongs to them).
_OPENERS = frozenset(
    "at on in to from via until due because and or but between near toward towards for after before except "
    "an am im auf in bis ab von vom nach über wegen zwischen und oder aber bei beim vor hinter ohne zur zum durch "
    "seit statt außer ausser außerhalb innerhalb gegenüber entlang während "
    "en a de desde hasta por para entre y o pero debido sin hacia".split())
_CLINGING = _OPENERS | frozenset(
    "the a an of due out der die das den dem des ein eine einer einem einen am im vom el la los las un una del al "
    "debido".split())
PAGE_COST = 5  # one more page to cycle through; the break costs below are paid where each page ends
ORPHAN_COST = 3  # a page of one word ("emergency.") when a sentence's pages can be more even
_BREAK_COSTS = (0, 1, 1, 4, 10)  # after a sentence, a clause, before an opener, anywhere else, after a clinging word


def _break_cost(before: str, after: str) -> int:
    if before.endswith((".", "!", "?")) and after[:1].isupper():
        return _BREAK_COSTS[0]
    if before.endswith((",", ";", ":", "–", "—")) or after in ("–", "—"):
        return _BREAK_COSTS[1]
    if before in _CLINGING or len(before) > 1 and before.casefold() in _CLINGING:  # "The", not platform "A"
        return _BREAK_COSTS[4]  # "the | San Francisco Line", "wegen | Bauarbeiten"
    if after in _OPENERS:  # as written: "Steig | A außer Betrieb" is no phrase opened by Spanish "a"
        return _BREAK_COSTS[2]
    if before[-1:].isdigit() and not after[:1].isupper():
        return _BREAK_COSTS[4]  # "38 | minutes"
    return _BREAK_COSTS[3]


def _phrased(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """A sentence too long for one page in the fewest pages that end where it reads best (page breaks chosen
    together, at least cost: PAGE_COST a page plus each break's cost; of equal costs the most even pages:
    "Umleitung der Linie 54" | "wegen Bauarbeiten am Höfchen", not "... wegen Bauarbeiten" | "am Höfchen");
    [] when a word alone fits no page."""
    words = sentence.split()
    never = (1 << 30, 0, 0)
    best: list[tuple[int, int, int]] = [(0, 0, 0)] + [never] * len(words)  # (cost, sum of squared page lengths, start)
    for end in range(1, len(words) + 1):
        cost = 0 if end == len(words) else _break_cost(words[end - 1], words[end])
        for start in range(end - 1, -1, -1):
            page = " ".join(words[start:end])
            if not fits(page):
                break  # a longer page fits no better
            candidate = (best[start][0] + PAGE_COST + cost + (ORPHAN_COST if end - start == 1 else 0),
                         best[start][1] + len(page) ** 2, start)
            if candidate[:2] < best[end][:2]:
                best[end] = candidate
    if best[-1] == never:
        return []
    pages, end = [], len(words)
    while end:
        start = best[end][2]
        pages.append(" ".join(words[start:end]))
        end = start
    return pages[::-1]


def _lines(text_: str, fnt: ImageFont.FreeTypeFont, width: int, lines: int) -> list[str]:
    wrapped = wrap(text_, fnt, width)
    return [" ".join(wrapped[i : i + lines]) for i in range(0, len(wrapped), lines)]


def takeover_box(spec: LayoutSpec, paged: bool) -> Box:
    """Where a takeover's lines go; a paged one leaves a line at the bottom for its page counter."""
    area = takeover_area(spec)
    if not paged:
        return area
    line = int(spec.small_size * 1.25)
    return Box(area.x, area.y, area.w, area.h - line)


@lru_cache(maxsize=256)
def takeover_pages(spec: LayoutSpec, text_: str) -> tuple[int, tuple[tuple[str, ...], ...]]:
    """The takeover's bold type size and its pages of lines: the largest size (from twice the header's down to
    the rows') at which every word fits across and every line fits on one page; when the text does not fit
    one page at the rows' size it is paged there (sentences kept together where they can be). A word too wide
    even then is abbreviated, and the type goes down to the small text's size before a word is ever cut."""
    area = takeover_area(spec)
    size = max(spec.row_size, min(area.h // 3, spec.header_size * 2))
    while True:
        fnt = font(spec.font_family, size, bold=True)
        line_h = int(size * 1.2)
        whole = all(width_of(word, fnt) <= area.w for word in text_.split())
        if whole and len(wrap(text_, fnt, area.w)) * line_h <= area.h:
            return size, (tuple(wrap(text_, fnt, area.w)),)
        abbreviable = all(fits_whole(word, fnt, area.w) for word in text_.split())
        if size <= spec.small_size or (size <= spec.row_size and abbreviable):
            break
        size = max(spec.small_size, int(size * 0.85))
    box = takeover_box(spec, paged=True)
    room = max(1, box.h // line_h)

    def fits(candidate: str) -> bool:
        return len(wrap(candidate, fnt, box.w)) <= room

    pages = pack(" ".join(fit(w, fnt, box.w) for w in text_.split()), fits, fnt, box.w, room)
    return size, tuple(tuple(wrap(page, fnt, box.w)) for page in pages)
