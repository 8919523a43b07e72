"""Trip ids and headsigns kept as arrays read back exactly as the strings they were, in any language."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.strings import StringIndex, Strings


@given(st.lists(st.text(max_size=30), max_size=60))
def test_strings_read_back_as_written(values: list[str]) -> None:
    strings = Strings.of(values)
    assert len(strings) == len(values) and list(strings) == values and strings == values
    assert [strings[i] for i in range(-len(values), len(values))] == values + values
    assert strings[1:4] == values[1:4]
    assert pickle.loads(pickle.dumps(strings)) == values


def test_index_is_built_on_first_use_and_never_pickled() -> None:
    ids = Strings.of(["1678224", "Mühle-Süd", "", "1678224"])
    index = StringIndex(ids)
    assert index["Mühle-Süd"] == 1 and index.get("nope", -1) == -1 and "" in index
    assert pickle.dumps(index).count("Mühle".encode()) == 1  # in the strings' array only: the dict is not pickled
    assert pickle.loads(pickle.dumps(index))["Mühle-Süd"] == 1
    assert index["1678224"] == 0  # a repeated string: its first position
    with pytest.raises(IndexError):
        Strings.of(["a"])[1]
