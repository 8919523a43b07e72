"""How the service bench's realtime feed changes from one update to the next: the delays of every stop update
of every trip, per update, as a pure function of the mode and a seed (no I/O, no timetable).

- `pessimistic` (the default, and the mode the goals hold for): every trip's delays are drawn afresh at every
  update, from four states that take turns, so every trip shown anywhere changes every 15 s.
- `realistic`: a trip's delay drifts a few seconds per update (-5..+5 s), and a tenth of the trips, others
  each time, change by a minute or more (60..300 s, earlier or later), as predictions do in a real feed.
"""

from __future__ import annotations

import random

__all__ = ["DRIFT_S", "JUMP_S", "JUMP_SHARE", "MODES", "delay_states"]

MODES = ("pessimistic", "realistic")
DRIFT_S = 5  # realistic: a trip's delay moves by at most this many seconds per update
JUMP_S = (60, 300)  # realistic: the change of a trip that jumps (either way)
JUMP_SHARE = 10  # realistic: one trip in JUMP_SHARE jumps at each update
_CYCLE = 4  # pessimistic: states that take turns


def delay_states(mode: str, trips: int, updates: int, states: int, seed: int = 3) -> list[list[list[int]]]:
    """`states` feeds' delays, `[state][trip][stop update]` in seconds: state 0 is the feed the service
    starts with, each later one an update. Pessimistic states are those the bench always used (four
    seeded draws of -60..600 s per stop update, taking turns: state k is draw k % 4)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    rng = random.Random(seed)
    seeds = [rng.randint(0, 1 << 30) for _ in range(_CYCLE)]
    if mode == "pessimistic":
        cycle = [_drawn(trips, updates, s) for s in seeds]
        return [cycle[k % _CYCLE] for k in range(states)]
    out = [_drawn(trips, updates, seeds[0])] if states else []
    for _ in range(1, states):
        jumping = set(rng.sample(range(trips), trips // JUMP_SHARE))
        state = []
        for trip, delays in enumerate(out[-1]):
            if trip in jumping:
                change = rng.randint(*JUMP_S) * rng.choice((-1, 1))
            else:
                change = rng.randint(-DRIFT_S, DRIFT_S)
            state.append([d + change for d in delays])
        out.append(state)
    return out


def _drawn(trips: int, updates: int, seed: int) -> list[list[int]]:
    """Delays of -60..600 s drawn in the order bench_realtime.build_feed always drew them."""
    rng = random.Random(seed)
    return [[rng.randint(-60, 600) for _ in range(updates)] for _ in range(trips)]
