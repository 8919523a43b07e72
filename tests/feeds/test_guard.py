"""The guards' rules on their own: when a full dataset is a collapse, what identifies unchanged content."""

from __future__ import annotations

from rtkit import feed, stu, trip_update

from feeds.guard import CountHistory, carried_over
from feeds.poller import content_digest
from feeds.realtime import parse_feed

T = 1_715_752_800


def history(*counts: tuple[int, int | None]) -> CountHistory:
    h = CountHistory()
    for n, (trips, scheduled) in enumerate(counts):
        h = h.record(T + 60 * n, trips, scheduled)
    return h


def test_a_drop_the_timetable_does_not_share_is_a_collapse() -> None:
    h = history((9800, 4000), (10100, 4100), (9900, 4000))
    said = h.judge(T + 180, 310, 4000, 0.3)
    assert said is not None and said.startswith("full dataset collapsed: 310 trip updates, 3 % of the recent median")
    assert h.judge(T + 180, 9000, 4000, 0.3) is None


def test_an_abrupt_end_of_service_is_no_collapse() -> None:
    # The last pulse of the night has left: the timetable runs a tenth of what it ran, and so does the feed.
    h = history((400, 120), (410, 118), (390, 121))
    assert h.judge(T + 180, 40, 12, 0.3) is None
    assert h.judge(T + 180, 40, None, 0.3) is not None  # without the timetable the same drop would be suspect


def test_too_little_history_or_too_small_a_feed_is_not_judged() -> None:
    assert history((9800, None), (9900, None)).judge(T + 120, 10, None, 0.3) is None
    assert history((12, None), (15, None), (14, None)).judge(T + 180, 0, None, 0.3) is None
    old = history((9800, None), (9900, None), (9700, None))
    assert old.judge(T + 2 * 3600, 10, None, 0.3) is None  # an hour later those datasets say nothing


def test_the_last_good_dataset_fills_in_only_the_trips_the_collapsed_one_lacks() -> None:
    good = parse_feed(feed(trip_update("A", stu(seq=1, dep_delay=60), start_date="20240515"),
                           trip_update("B", stu(seq=1, dep_delay=60), start_date="20240515"), timestamp=T), "x", T)
    collapsed = parse_feed(feed(trip_update("A", stu(seq=1, dep_delay=0), start_date="20240515"), timestamp=T), "x", T)
    assert [e.trip_update.trip.trip_id for e in carried_over(good.message, collapsed.message)] == ["B"]


def test_content_digest_ignores_the_header_only() -> None:
    one = feed(trip_update("A", stu(seq=1, dep_delay=60)), timestamp=T)
    later = feed(trip_update("A", stu(seq=1, dep_delay=60)), timestamp=T + 60)
    moved = feed(trip_update("A", stu(seq=1, dep_delay=120)), timestamp=T + 60)
    assert content_digest(one) == content_digest(later) != content_digest(moved)
