"""Times and whole numbers parsed from a column's bytes (feeds/numbers.py), eight bytes at a time for the
common shapes and by the general parsers otherwise, give what Python's own reading of each value gives."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from feeds.columns import Text
from feeds.numbers import fast_ints, fast_times, ints_of, times_of

INTS = st.one_of(st.integers(0, 99_999_999).map(str), st.integers(-10**19, 10**19).map(str),
                 st.sampled_from(["", "007", "+5", "-0", "1a", "a1", ":", "/", "9" * 18, "9" * 19, "1 2", "٣"]))
TIMES = st.one_of(
    st.builds(lambda h, m, s, pad: f"{h:0{pad}d}:{m:02d}:{s:02d}", st.integers(0, 999), st.integers(0, 69),
              st.integers(0, 69), st.sampled_from([1, 2])),
    st.sampled_from(["", "8:05", "08:05:0", "x8:05:00", "08-05:00", "08:05:00x", "1000:00:00", "+8:05:00", "8:5:00"]))
INT = re.compile(r"[+-]?[0-9]{1,18}")
TIME = re.compile(r"([0-9]{1,3}):([0-5][0-9]):([0-5][0-9])")


def _text(values: list[str], prefix: str) -> Text:
    """The values as a column of a CSV line after `prefix` (a short prefix leaves no whole word before the
    first value: the general parser's case)."""
    raw = (prefix + ",".join(values) + "\n").encode()
    start, at = [], len(prefix.encode())
    for v in values:
        start.append(at)
        at += len(v.encode()) + 1
    begin = np.array(start, dtype=np.int64)
    return Text(begin, begin + [len(v.encode()) for v in values], np.frombuffer(raw + bytes(16), dtype=np.uint8))


@given(values=st.lists(INTS, min_size=1, max_size=30), prefix=st.sampled_from(["", "id,", "a" * 16 + ","]))
@example(values=["1", "12345678", ""], prefix="a" * 16 + ",")
def test_whole_numbers(values: list[str], prefix: str) -> None:
    parsed, valid = ints_of(_text(values, prefix), -7)
    assert valid.tolist() == [v == "" or bool(INT.fullmatch(v)) for v in values]
    assert [int(p) for p, v in zip(parsed, values) if v == "" or INT.fullmatch(v)] == [
        -7 if v == "" else int(v) for v in values if v == "" or INT.fullmatch(v)]
    fast = fast_ints(_text(values, prefix), -7)
    assert fast is None or fast.tolist() == parsed.tolist()


@given(values=st.lists(TIMES, min_size=1, max_size=30), prefix=st.sampled_from(["", "t,", "a" * 16 + ","]))
@example(values=["8:05:00", "08:05:01", "", "24:00:00"], prefix="a" * 16 + ",")
def test_times(values: list[str], prefix: str) -> None:
    parsed, valid = times_of(_text(values, prefix))
    expected = [
        (-1 if v == "" else int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]))
        if (m := TIME.fullmatch(v)) or v == ""
        else None
        for v in values
    ]
    assert valid.tolist() == [e is not None for e in expected]
    assert [int(p) for p, e in zip(parsed, expected) if e is not None] == [e for e in expected if e is not None]
    fast = fast_times(_text(values, prefix))
    assert fast is None or fast.tolist() == parsed.tolist()


def test_the_common_shapes_take_the_fast_path() -> None:
    assert fast_ints(_text(["1", "22", "", "12345678"], "a" * 16 + ","), 0) is not None
    assert fast_times(_text(["8:05:00", "23:59:59", ""], "a" * 16 + ",")) is not None
    assert (
        fast_ints(_text(["-1"], "a" * 16 + ","), 0) is None and fast_times(_text(["100:00:00"], "a" * 16 + ",")) is None
    )
