"""Times and whole numbers of a string column, parsed with numpy from its bytes (no Python string per value).

The common shapes (H:MM:SS and HH:MM:SS; one to eight digits without a sign) are parsed eight bytes at a
time: each value's last eight bytes are read as one little-endian word (a view of the bytes at every offset,
no copy) and taken apart with shifts and masks (SWAR), instead of one gather per character. A column with
any other value goes to the general parsers, which also say which values are not valid."""

from __future__ import annotations

import numpy as np

from .columns import Text

__all__ = ["fast_ints", "fast_times", "ints_of", "times_of"]

_U = np.uint64
_ZEROS = _U(0x3030303030303030)  # '0' in every byte
_BYTE = _U(0xFF)


def _last_words(text: Text) -> np.ndarray | None:
    """The eight bytes that end at each value's end, as uint64 (its last byte in the top byte); None when a
    value ends within the first eight bytes of the data (no whole word before it)."""
    if not len(text) or int(text.end.min()) < 8:
        return None
    data = text.data
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    return words[text.end - 8]  # type: ignore[no-any-return]


def _byte(word: np.ndarray, back: int) -> np.ndarray:
    """The byte `back` places before each value's end (0: its last byte)."""
    return (word >> _U(56 - 8 * back)) & _BYTE  # type: ignore[no-any-return]


def fast_times(text: Text) -> np.ndarray | None:
    """Seconds after the service day's start (int32, -1 where empty), or None unless every value is empty,
    H:MM:SS or HH:MM:SS."""
    word = _last_words(text)
    if word is None:
        return None
    length = text.end - text.start
    empty = length == 0
    digit = [(_byte(word, back) - _U(48)) for back in (0, 1, 3, 4, 6, 7)]  # s2 s1 m2 m1 h2 h1 ('0' wraps below)
    two_hours = length == 8
    ok = ((length == 7) | two_hours) & (_byte(word, 2) == 58) & (_byte(word, 5) == 58)
    for k, d in enumerate(digit):
        ok &= (d <= _U(9)) | (k == 5) & ~two_hours
    ok &= (digit[1] <= _U(5)) & (digit[3] <= _U(5))
    if not (ok | empty).all():
        return None
    s2, s1, m2, m1, h2, h1 = (d.astype(np.int64) for d in digit)
    hours = h2 + np.where(two_hours, h1, 0) * 10
    seconds = hours * 3600 + (m1 * 10 + m2) * 60 + s1 * 10 + s2
    return np.where(empty, -1, seconds).astype(np.int32)


def fast_ints(text: Text, default: int) -> np.ndarray | None:
    """Whole numbers (int64, `default` where empty), or None unless every value is empty or one to eight
    digits."""
    word = _last_words(text)
    if word is None:
        return None
    length = (text.end - text.start).astype(np.uint64)
    if int(length.max(initial=0)) > 8:
        return None
    ours = ~((_U(1) << (_U(64) - _U(8) * length)) - _U(1))  # the value's own bytes: the top `length` of the word
    ours = np.where(length == 0, _U(0), ours)
    digits = ((word & ours) | (_ZEROS & ~ours)) - _ZEROS  # other bytes as '0'; each byte now 0..9 if a digit
    # a byte is a digit when it was '0'..'9': after the subtraction 0..9, and 0..9 + 0x76 stays below 0x80
    if (((digits + _U(0x7676767676767676)) | digits) & _U(0x8080808080808080)).any():
        return None
    value = ((digits & _U(0x0F0F0F0F0F0F0F0F)) * _U(2561)) >> _U(8)  # pairs of digits: first * 10 + second
    value = ((value & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)  # fours: * 100
    value = ((value & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)  # eights: * 10000
    return np.where(length == 0, default, value.astype(np.int64))


def ints_of(text: Text, default: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers ([+-]digits, at most 18) as int64, empty values taking `default`, and which values are
    valid."""
    fast = fast_ints(text, default)
    if fast is not None:
        return fast, np.ones(len(fast), dtype=bool)
    start, end, data = text.start, text.end, text.data
    length = end - start
    first = data[start]
    signed = (length > 0) & ((first == 45) | (first == 43))  # '-' or '+'
    digits_from = start + signed
    count = end - digits_from
    valid = (length == 0) | ((count >= 1) & (count <= 18))
    value = np.zeros(len(start), dtype=np.int64)
    for k in range(int(count[valid].max(initial=0))):
        present = k < count
        d = data[np.where(present, digits_from + k, 0)].astype(np.int64) - 48
        valid &= ~present | ((d >= 0) & (d <= 9))
        value = np.where(present, value * 10 + d, value)
    value = np.where(signed & (first == 45), -value, value)
    return np.where(length == 0, default, value), valid


def times_of(text: Text) -> tuple[np.ndarray, np.ndarray]:
    """Times H:MM:SS, HH:MM:SS or HHH:MM:SS (hours past 24) as seconds after the service day's start (int32,
    -1 where empty), and which values are valid."""
    fast = fast_times(text)
    if fast is not None:
        return fast, np.ones(len(fast), dtype=bool)
    start, end, data = text.start, text.end, text.data
    length = end - start
    empty = length == 0
    ok = empty | ((length >= 7) & (length <= 9))
    safe_end = np.where(ok & ~empty, end, 9)

    def digit(pos: np.ndarray) -> np.ndarray:
        return data[pos].astype(np.int32) - 48

    s2, s1, m2, m1 = digit(safe_end - 1), digit(safe_end - 2), digit(safe_end - 4), digit(safe_end - 5)
    colons = (data[safe_end - 3] == 58) & (data[safe_end - 6] == 58)
    hours = np.zeros(len(start), dtype=np.int32)
    hours_ok = np.ones(len(start), dtype=bool)
    scale = 1
    for k in range(1, 4):
        present = length >= 6 + k
        d = digit(np.where(present, safe_end - 6 - k, 0))
        hours_ok &= ~present | ((d >= 0) & (d <= 9))
        hours += np.where(present, d, 0) * scale
        scale *= 10
    digits = np.stack([s2, s1, m2, m1])
    valid = empty | (ok & colons & hours_ok & np.all((digits >= 0) & (digits <= 9), axis=0) & (m1 <= 5) & (s1 <= 5))
    seconds = hours * 3600 + (m1 * 10 + m2) * 60 + s1 * 10 + s2
    return np.where(empty, -1, seconds).astype(np.int32), valid
