"""Builds small GTFS feeds for tests: defaults for every required file, overridable per file."""

from __future__ import annotations

import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

DEFAULTS = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone,agency_lang\nMVG,Mainzer Mobilität,https://example.org,Europe/Berlin,de\n",
    "stops.txt": (
        "stop_id,stop_name,location_type,parent_station,platform_code\n"
        "HBF,Mainz Hauptbahnhof,1,,\n"
        "HBF:A,Mainz Hauptbahnhof,0,HBF,A\n"
        "HBF:B,Mainz Hauptbahnhof,0,HBF,B\n"
        "UNI,Universität,0,,\n"
        "GON,Gonsenheim,0,,\n"
    ),
    "routes.txt": (
        "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n"
        "50,MVG,50,Hechtsheim - Finthen,0,e30613,ffffff\n"
        "68,MVG,68,Uni - Gonsenheim,3,,\n"
    ),
    "trips.txt": (
        "route_id,service_id,trip_id,trip_headsign,direction_id\n"
        "50,WD,T1,Finthen,0\n"
        "68,WD,T2,Gonsenheim,1\n"
    ),
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "WD,1,1,1,1,1,0,0,20240101,20241231\n"
    ),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,HBF:A,1\n"
        "T1,08:10:00,08:11:00,UNI,2\n"
        "T1,08:20:00,08:20:00,GON,3\n"
        "T2,08:05:00,08:05:00,HBF:B,1\n"
        "T2,08:15:00,08:15:00,GON,2\n"
    ),
}


def write_feed(folder: Path, as_zip: bool = False, drop: tuple[str, ...] = (), **files: str) -> Path:
    """Write a feed to `folder` (or `folder`.zip); keyword names use '_' for '.', e.g. stops_txt."""
    content = dict(DEFAULTS)
    content.update({name.replace("_txt", ".txt"): text for name, text in files.items()})
    for name in drop:
        content.pop(name, None)
    if as_zip:
        path = folder.with_suffix(".zip")
        with zipfile.ZipFile(path, "w") as zf:
            for name, text in content.items():
                zf.writestr(name, text.encode("utf-8") if isinstance(text, str) else text)
        return path
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in content.items():
        data = text.encode("utf-8") if isinstance(text, str) else text
        (folder / name).write_bytes(data)
    return folder


def shared_feed(*parts: str) -> Path:
    """A real feed from ../shared/data; skips the test with the reason when it is absent."""
    import pytest

    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real feed {path} is absent (../shared/data is not beside the checkout)")
    return path
