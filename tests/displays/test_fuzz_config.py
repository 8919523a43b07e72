"""Any config file and any admin-API display body: a ServiceConfig or a ConfigError naming the
field, never another exception."""

from __future__ import annotations

import datetime as dt
import string

import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from displays.config.model import ConfigError, ServiceConfig
from displays.config.parse import parse_config, parse_display

SOURCE = "/srv/stopcast/stopcast.toml"
keys = st.one_of(
    st.sampled_from(["feeds", "mqtt", "http", "state", "displays", "layouts", "gtfs", "realtime", "url", "id", "stops",
                     "layout", "rows", "language", "encoding", "mqtt_user", "prefix", "listen", "max_packet",
                     "header_timeout", "headers", "interval", "timeout", "dir", "trmnl_id", "directions"]),
    st.text(string.printable, max_size=8),
)
scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["epaper-800x480", "HBF", "mqtt://127.0.0.1:1883", "embedded", "127.0.0.1:0", "de", "../x.toml",
                     "env:HOME", "nl\n", "a\x00b", "stopcast/v1", "#", "http://x/y.pb"]),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 1, 1)),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
                      max_leaves=25)
documents = st.dictionaries(keys, values, max_size=6)


def _near_valid(doc: dict) -> dict:
    base: dict = {
        "feeds": {"gtfs": "demo.zip"},
        "displays": [{"id": "a", "stops": ["HBF"], "layout": "epaper-800x480"}],
    }
    return {**base, **doc}


@given(doc=st.one_of(documents, documents.map(_near_valid)))
def test_any_config_is_valid_or_a_config_error(doc: dict) -> None:
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return  # not representable as TOML
    try:
        config = parse_config(text, SOURCE)
    except ConfigError as exc:
        assert str(exc).startswith(SOURCE)
        return
    assert isinstance(config, ServiceConfig)


@given(text=st.text(max_size=200))
def test_any_text_is_valid_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, SOURCE)
    except ConfigError:
        pass


BASE = parse_config(tomli_w.dumps({"feeds": {"gtfs": "demo.zip"}}), SOURCE)
display_bodies = st.one_of(
    values,
    st.fixed_dictionaries(
        {"id": values, "stops": values, "layout": values},
        optional={"rows": values, "language": values, "mqtt_user": values},
    ),
)


@given(body=display_bodies)
def test_any_admin_display_body_is_a_display_or_a_config_error(body: object) -> None:
    try:
        display = parse_display(body, "request body", BASE)
    except ConfigError as exc:
        assert str(exc).startswith("request body")
        return
    assert display.id and display.stops
