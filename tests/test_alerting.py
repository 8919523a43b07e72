"""The shipped alerting: deploy/prometheus/stopcast-rules.yml passes `promtool check rules`, each rule fires
(and stays quiet) in a promtool unit test fed from series that stopcast's own /metrics produced here, and every
metric the Grafana dashboard deploy/grafana/stopcast.json queries is exported by /metrics."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from feedkit import write_feed
from prometheus_client.parser import text_string_to_metric_families
from servicekit import DISPLAYS, write_config

from displays.config.parse import load_config
from displays.core.instances import Member
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.rendering import PoolRenderer
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.demo import simulated_realtime
from feeds.times import parse_instant

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy/prometheus/stopcast-rules.yml"
DASHBOARD = ROOT / "deploy/grafana/stopcast.json"
AT = parse_instant("2026-11-25T08:00:05+01:00")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package "
                                    "'prometheus'; `make test` installs it when it may)")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(service: Service) -> Samples:
    """/metrics of `service` over a real aiohttp server, as {(name, labels): value}."""
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    try:
        text = await (await client.get("/metrics")).text()
    finally:
        await client.close()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _healthy_then_broken(tmp_path: Path) -> tuple[Samples, Samples]:
    """One service scraped healthy (fresh feed, broker up, two instances live), then with everything the rules
    watch broken: broker lost, feed stale and failing, a display that cannot be rendered, pillars dark, a
    render worker killed, the other instance gone."""
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          [dict(d, dark_after=60) for d in DISPLAYS],
                          feeds={"realtime": [{"url": "rt.pb", "interval": 5, "stale_after": 60}]})
    clock, link = FixedClock(AT), MemoryLink()
    service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache", link=link,
                      renderer=PoolRenderer(1))
    await service.prepare()
    try:
        assert service.timetable is not None
        (config.parent / "rt.pb").write_bytes(simulated_realtime(service.timetable, AT))
        await service.fetch_all()
        mine = service.membership.identity  # an instance of this deployment, announcing itself live
        service.on_member(Member("other", True, epoch=1, since=AT, at=AT, ttl=30, deployment=mine.deployment,
                                 displays=mine.displays))
        await service.refresh(AT)
        healthy = await _scrape(service)

        clock.advance(120)
        link.connected = False
        (config.parent / "rt.pb").unlink()
        await service.fetch_all()
        service.on_member(Member("other", False, epoch=1, since=AT, at=AT + 120, ttl=30, deployment=mine.deployment,
                                 displays=mine.displays))
        service.load_timetable(write_feed(tmp_path / "next", as_zip=True))  # a feed without the LED's stop GONS
        for process in [worker.process for worker in service.renderer.pool]:  # type: ignore[attr-defined]
            process.kill()  # as the OOM killer would
            process.join()
        await service.refresh(AT + 120)
        broken = await _scrape(service)
    finally:
        await service.close()
    return healthy, broken


async def _without_timetable(tmp_path: Path) -> Samples:
    config = write_config(tmp_path / "none", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1))
    (config.parent / "demo.zip").unlink()
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache",
                      link=MemoryLink())
    await service.prepare()
    try:
        return await _scrape(service)
    finally:
        await service.close()


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Samples, Samples]:
    import asyncio

    tmp = tmp_path_factory.mktemp("alerting")

    async def both() -> tuple[Samples, Samples]:
        healthy, broken = await _healthy_then_broken(tmp)
        broken.update({k: v for k, v in (await _without_timetable(tmp)).items() if k[0] == "stopcast_timetable_loaded"})
        return healthy, broken

    return asyncio.run(both())


def test_the_scrapes_show_what_was_broken(scrapes: tuple[Samples, Samples]) -> None:
    healthy, broken = scrapes

    def value(samples: Samples, name: str) -> float:
        return sum(v for (n, _), v in samples.items() if n == name)

    assert [value(healthy, n) for n in ("stopcast_broker_connected", "stopcast_feed_stale", "stopcast_feed_errors",
                                        "stopcast_displays_failing", "stopcast_pillars_dark",
                                        "stopcast_render_worker_restarts_total", "stopcast_instances_live",
                                        "stopcast_timetable_loaded")] == [1, 0, 0, 0, 0, 0, 2, 1]
    assert [value(broken, n) for n in ("stopcast_broker_connected", "stopcast_feed_stale", "stopcast_feed_errors",
                                       "stopcast_displays_failing", "stopcast_pillars_dark",
                                       "stopcast_render_worker_restarts_total", "stopcast_instances_live",
                                       "stopcast_timetable_loaded")] == [0, 1, 1, 1, 4, 1, 1, 0]


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def _firing(rule: dict, broken: Samples) -> list[dict[str, str]]:
    """The label sets the rule's alert should have once the broken values held long enough: the broken series
    of the metric it watches (its first metric name), with the rule's labels."""
    name = re.search(r"\b(stopcast_\w+|up)\b", rule["expr"])
    assert name is not None
    metric = name.group(1)
    watched = [labels for (n, labels), _ in broken.items() if n == metric] or [()]
    return [{**dict(labels), "job": "stopcast", "instance": "a", **rule["labels"]} for labels in watched]


def _annotations(rule: dict, labels: dict[str, str], value: float) -> dict[str, str]:
    """The rule's annotations as Prometheus expands them for one alert (labels, and the value as Go prints it)."""
    shown = str(int(value)) if value == int(value) else repr(value)

    def expand(text: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)
        return text.replace("{{ $value }}", shown)

    return {k: expand(v) for k, v in rule["annotations"].items()}


def _unit_test(rules: list[dict], healthy: Samples, broken: Samples) -> dict:
    """A promtool test file: every scraped series healthy for 10 minutes, then broken for 40; each rule quiet
    at 9 minutes and firing (exactly the expected series) at 25."""
    series = []
    for key in sorted(set(healthy) | set(broken)):
        name, labels = key
        if not name.startswith("stopcast_"):
            continue
        good, bad = healthy.get(key, broken.get(key)), broken.get(key, healthy.get(key))
        text = ",".join(f'{k}="{v}"' for k, v in (*labels, ("job", "stopcast"), ("instance", "a")))
        series.append({"series": f"{name}{{{text}}}", "values": f"{good:g}x9 {bad:g}x40"})
    series.append({"series": 'up{job="stopcast",instance="a"}', "values": "1x9 0x40"})  # Prometheus' own series
    cases = []
    for rule in rules:
        expected = []
        for labels in _firing(rule, broken):
            metric = re.search(r"\b(stopcast_\w+|up)\b", rule["expr"]).group(1)  # type: ignore[union-attr]
            own = tuple(sorted((k, v) for k, v in labels.items() if k not in ("job", "instance", "severity")))
            value = {"up": 0.0, "stopcast_render_worker_restarts_total": None,
                     "stopcast_instances_live": broken[("stopcast_instances_live", ())]}.get(
                metric, broken.get((metric, own)))
            expected.append({"exp_labels": labels,
                             "exp_annotations": _annotations(rule, labels, value if value is not None else 0)})
        cases.append({"eval_time": "9m", "alertname": rule["alert"], "exp_alerts": []})
        cases.append({"eval_time": "25m", "alertname": rule["alert"], "exp_alerts": expected})
    return {"rule_files": [str(RULES)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": cases}]}


@needs_promtool
def test_each_rule_fires_on_series_stopcast_produced(scrapes: tuple[Samples, Samples], tmp_path: Path) -> None:
    healthy, broken = scrapes
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {"StopcastPillarsDark", "StopcastFeedStale", "StopcastFeedFailing",
                                           "StopcastDisplaysFailing", "StopcastRenderWorkerRestarted",
                                           "StopcastBrokerLost", "StopcastInstanceGone", "StopcastDown"}
    test_file = tmp_path / "stopcast-rules.test.yml"
    test_file.write_text(yaml.safe_dump(_unit_test(rules, healthy, broken)))
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _queried_metrics(dashboard: dict) -> set[str]:
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert exprs, "the dashboard queries nothing"
    return {m for e in exprs for m in re.findall(r"\b((?:stopcast|process)_[a-z_]+)\b", e)}


def test_every_metric_the_grafana_dashboard_queries_is_exported(scrapes: tuple[Samples, Samples]) -> None:
    healthy, broken = scrapes
    dashboard = json.loads(DASHBOARD.read_text())
    exported = {name for name, _ in (*healthy, *broken)}
    missing = sorted(_queried_metrics(dashboard) - exported)
    assert not missing, f"the dashboard queries metrics /metrics does not export: {missing}"
    assert {"stopcast_render_seconds_bucket", "stopcast_feed_update_to_frame_seconds_bucket",
            "process_resident_memory_bytes"} <= _queried_metrics(dashboard)
