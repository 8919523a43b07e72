"""A plain CSV file (no quotes, LF or CRLF line ends, every line as long as the header) is split by numpy
(feeds/columns.py) into the same values, ids and distinct values as pyarrow's CSV reader gives; and a
cold `departures` on such a feed never imports pyarrow (0.1 s and 30 MB of every cold start)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from feedkit import write_feed
from hypothesis import example, given
from hypothesis import strategies as st

from feeds.columns import NotPlain
from feeds.errors import FeedError
from feeds.source import GtfsSource
from feeds.tables import open_table

PIECES = ["a", "b", "7", "_", ":", " ", "\t", "é", "\u00a0", "x" * 9, "ü ", "\r"]
VALUES = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)


def _both(text: bytes, columns: tuple[str, ...], slice_bytes: int = 1 << 20) -> tuple[object, object, bool]:
    """The file as a Table read plain if it is (else by the CSV reader), as a Table read by the CSV reader, and
    whether it was plain; the CSV reader's FeedError, when it refuses the file, in place of both tables."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "x.txt").write_bytes(text)
        opened = open_table(GtfsSource(folder), "x.txt", columns)
        try:
            list(opened.slices())
            plain = True
        except NotPlain:
            plain = False
        try:
            csv = opened.table(plain=False)
        except FeedError as exc:
            with pytest.raises(FeedError) as refused:
                opened.table()
            assert str(refused.value) == str(exc)
            return exc, exc, plain
        return opened.table(slice_bytes=slice_bytes), csv, plain


@given(rows=st.lists(st.lists(VALUES, min_size=3, max_size=3), max_size=40), crlf=st.booleans(),
       last_eol=st.booleans(), empty_lines_after=st.integers(0, 2), extra=st.lists(VALUES, max_size=5),
       slice_bytes=st.sampled_from([1, 7, 30, 1 << 20]))
@example(rows=[["a", " b ", ""], ["x" * 9, "7", "  "]], crlf=True, last_eol=False, empty_lines_after=0, extra=["b"],
         slice_bytes=1 << 20)
@example(rows=[["", "", ""]], crlf=False, last_eol=True, empty_lines_after=2, extra=[], slice_bytes=1)
def test_plain_split_gives_what_the_csv_reader_gives(
    rows: list[list[str]], crlf: bool, last_eol: bool, empty_lines_after: int, extra: list[str], slice_bytes: int
) -> None:
    """Whole or in slices of a few bytes (a slice ends at a line's end)."""
    eol = "\r\n" if crlf else "\n"
    lines = ["a,b,c", *(",".join(r) for r in rows)]
    text = (eol.join(lines) + (eol if last_eol else "") + eol * empty_lines_after).encode()
    plain, csv, _ = _both(text, ("a", "b", "c"), slice_bytes)
    if isinstance(csv, FeedError):
        return
    assert plain.num_rows == csv.num_rows  # type: ignore[attr-defined]
    for column in ("a", "b", "c"):
        values = csv.strings(column)  # type: ignore[attr-defined]
        assert plain.strings(column) == values  # type: ignore[attr-defined]
        known = {v: i for i, v in enumerate(dict.fromkeys([*extra, *values[::2]]))}
        assert plain.codes(column, known).tolist() == csv.codes(column, known).tolist()  # type: ignore[attr-defined]
        assert plain.codes(column, known).tolist() == [known.get(v, -1) for v in values]  # type: ignore[attr-defined]
        assert plain.uniques(column) == list(dict.fromkeys(values))  # type: ignore[attr-defined]


def test_what_is_not_plain_goes_to_the_csv_reader() -> None:
    for text in (b'a,b\n"1,2",3\n', b"a,b\n1,2,3\n4,5\n", b"a,b\n1,2\n\n3,4\n", b"a,b\n1\r2,3\n", b"a,b\n\xc3\xa91,2\n",
                 b"a,b\n1,2\r", b"a,b\n1,2\r\r\n"):
        _, _, plain = _both(text, ("a", "b"))
        assert not plain, text
    assert _both(b"a,b\r\n1, 2 \r\n\r\n", ("a", "b"))[2]


def test_a_cold_departures_on_a_plain_feed_does_not_import_pyarrow(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", as_zip=True)
    stopcast = Path(sys.executable).with_name("stopcast")  # the console script, wherever the CLI's module lives
    program = ("import runpy, sys\n"
               f"sys.argv = [{str(stopcast)!r}, 'departures', '--gtfs', {str(feed)!r}, '--stop', 'HBF', '--at', "
               "'2024-05-15T08:00:00+02:00', '--no-cache']\n"
               "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as done:\n"
               "    assert not done.code, done.code\n"
               "print('pyarrow' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "False", done.stdout + done.stderr
