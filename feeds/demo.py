"""A generated demo network: a small Mainz-like city with trams, buses and a night bus.

Pure: the feed's files are a function of the first service day, so a demo started today
always has service, and tests pin the day.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from google.transit import gtfs_realtime_pb2 as rt

from .times import format_service_date, gtfs_time, local_date, service_day_origin

if TYPE_CHECKING:
    from .timetable import Timetable

TIMEZONE = "Europe/Berlin"
MAIN_STATION = "HBF"

# stop_id, name, lat, lon, parent, platform_code
STOPS: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("HBF", "Mainz Hauptbahnhof", 50.0012, 8.2588, "", ""),
    ("HBF:A", "Mainz Hauptbahnhof", 50.0010, 8.2590, "HBF", "A"),
    ("HBF:B", "Mainz Hauptbahnhof", 50.0011, 8.2592, "HBF", "B"),
    ("HBF:C", "Mainz Hauptbahnhof", 50.0013, 8.2594, "HBF", "C"),
    ("HBF:D", "Mainz Hauptbahnhof", 50.0014, 8.2596, "HBF", "D"),
    ("HBF:E", "Mainz Hauptbahnhof", 50.0015, 8.2598, "HBF", "E"),
    ("HBF:F", "Mainz Hauptbahnhof", 50.0016, 8.2600, "HBF", "F"),
    ("HOEF", "Höfchen/Listmann", 49.9990, 8.2731, "", ""),
    ("SCHI", "Schillerplatz", 49.9975, 8.2680, "", ""),
    ("GAUT", "Am Gautor", 49.9940, 8.2740, "", ""),
    ("MUEN", "Münsterplatz", 49.9986, 8.2650, "", ""),
    ("UNI", "Universität", 49.9930, 8.2410, "", ""),
    ("BRET", "Bretzenheim Bahnstraße", 49.9810, 8.2300, "", ""),
    ("GONS", "Gonsenheim Kapellenstraße", 50.0140, 8.2150, "", ""),
    ("FINT", "Finthen Poststraße", 49.9920, 8.1700, "", ""),
    ("HECH", "Hechtsheim Bürgerhaus", 49.9630, 8.2800, "", ""),
    ("LERC", "Lerchenberg Hindemithstraße", 49.9610, 8.1920, "", ""),
    ("MOMB", "Mombach Turmstraße", 50.0190, 8.2330, "", ""),
    ("KAST", "Kastel Brückenkopf", 50.0070, 8.2830, "", ""),
    ("WEIS", "Weisenau Friedrich-Ebert-Straße", 49.9840, 8.3030, "", ""),
)


@dataclass(frozen=True, slots=True)
class Line:
    """One line: its stops with minutes from the first, headsigns, colours and headways."""

    route_id: str
    route_type: int  # 0 tram, 3 bus
    color: str
    text_color: str
    stops: tuple[tuple[str, str, int], ...]  # (outbound stop, inbound stop, minute)
    headsigns: tuple[str, str]
    headway_min: dict[str, int]  # service_id -> minutes between trips
    first: int  # first departure, minutes after the service day's origin
    last: int


LINES: tuple[Line, ...] = (
    Line("50", 0, "00598C", "FFFFFF",
         (("HECH", "HECH", 0), ("GAUT", "GAUT", 6), ("SCHI", "SCHI", 10), ("HBF:A", "HBF:B", 14),
          ("UNI", "UNI", 20), ("GONS", "GONS", 26), ("FINT", "FINT", 33)),
         ("Finthen Poststraße", "Hechtsheim Bürgerhaus"), {"WD": 10, "SA": 15, "SU": 20}, 5 * 60, 24 * 60 + 20),
    Line("51", 0, "7A1E99", "FFFFFF",
         (("LERC", "LERC", 0), ("BRET", "BRET", 8), ("UNI", "UNI", 13), ("HBF:A", "HBF:B", 19),
          ("MUEN", "MUEN", 22), ("SCHI", "SCHI", 24), ("GAUT", "GAUT", 28), ("WEIS", "WEIS", 35)),
         ("Weisenau Friedrich-Ebert-Straße", "Lerchenberg Hindemithstraße / ZDF-Sendezentrum"),
         {"WD": 15, "SA": 20, "SU": 30}, 5 * 60 + 10, 23 * 60 + 40),
    Line("54", 3, "B3000F", "FFFFFF",
         (("HBF:C", "HBF:D", 0), ("MUEN", "MUEN", 3), ("HOEF", "HOEF", 6), ("KAST", "KAST", 12)),
         ("Kastel Brückenkopf", "Mainz Hauptbahnhof"), {"WD": 12, "SA": 20, "SU": 30}, 5 * 60 + 30, 23 * 60),
    Line("68", 3, "FFD500", "000000",
         (("HBF:E", "HBF:F", 0), ("MOMB", "MOMB", 9), ("GONS", "GONS", 17)),
         ("Gonsenheim Kapellenstraße", "Mainz Hauptbahnhof"), {"WD": 20, "SA": 30}, 6 * 60, 21 * 60),
    Line("91", 3, "1A1A1A", "FFFFFF",
         (("HBF:C", "HBF:D", 0), ("HOEF", "HOEF", 5), ("GAUT", "GAUT", 9), ("HECH", "HECH", 18)),
         ("Hechtsheim Bürgerhaus", "Mainz Hauptbahnhof"), {"WD": 60, "SA": 60, "SU": 60}, 23 * 60 + 30, 25 * 60 + 30),
)


def demo_feed_files(first_day: dt.date, days: int = 400) -> dict[str, str]:
    """The GTFS files of the demo network, running from `first_day` for `days` days."""
    last_day = first_day + dt.timedelta(days=days)
    start, end = format_service_date(first_day), format_service_date(last_day)
    files = {
        "agency.txt": f"agency_id,agency_name,agency_url,agency_timezone,agency_lang\nDEMO,Demo-Verkehrsbetrieb Mainz,https://example.org/,{TIMEZONE},de\n",
        "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,platform_code\n"
        + "".join(f"{s},{n},{la},{lo},{1 if s == MAIN_STATION else 0},{p},{c}\n" for s, n, la, lo, p, c in STOPS),
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n"
        + "".join(
            f"{ln.route_id},DEMO,{ln.route_id},{ln.headsigns[1]} - {ln.headsigns[0]},{ln.route_type},{ln.color},"
            f"{ln.text_color}\n"
            for ln in LINES
        ),
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        f"WD,1,1,1,1,1,0,0,{start},{end}\nSA,0,0,0,0,0,1,0,{start},{end}\nSU,0,0,0,0,0,0,1,{start},{end}\n",
        "calendar_dates.txt": "service_id,date,exception_type\n" + "".join(_holidays(first_day, last_day)),
    }
    trips = io.StringIO("route_id,service_id,trip_id,trip_headsign,direction_id\n")
    times = io.StringIO("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n")
    trips.seek(0, io.SEEK_END)
    times.seek(0, io.SEEK_END)
    for line in LINES:
        for service, headway in line.headway_min.items():
            for direction in (0, 1):
                calls = line.stops if direction == 0 else tuple(reversed(line.stops))
                span = line.stops[-1][2]
                for n, begin in enumerate(range(line.first, line.last + 1, headway)):
                    trip_id = f"{line.route_id}-{service}-{direction}-{n:03d}"
                    trips.write(f"{line.route_id},{service},{trip_id},{line.headsigns[direction]},{direction}\n")
                    for seq, (out_stop, in_stop, minute) in enumerate(calls, start=1):
                        offset = minute if direction == 0 else span - minute
                        when = gtfs_time((begin + offset) * 60)
                        stop = out_stop if direction == 0 else in_stop
                        times.write(f"{trip_id},{when},{when},{stop},{seq}\n")
    files["trips.txt"] = trips.getvalue()
    files["stop_times.txt"] = times.getvalue()
    return files


def _holidays(first: dt.date, last: dt.date) -> list[str]:
    """Christmas, New Year and Labour Day run the Sunday timetable."""
    rows = []
    for year in range(first.year, last.year + 1):
        for month, day in ((1, 1), (5, 1), (12, 25), (12, 26)):
            date = dt.date(year, month, day)
            if first <= date <= last and date.weekday() < 6:
                removed = "WD" if date.weekday() < 5 else "SA"
                rows.append(f"{removed},{format_service_date(date)},2\nSU,{format_service_date(date)},1\n")
    return rows


def write_demo_feed(path: Path, first_day: dt.date) -> Path:
    """Write the demo network as a zip at `path` (unchanged bytes for the same day)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in demo_feed_files(first_day).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buffer.getvalue()
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def simulated_realtime(tt: Timetable, now: int) -> bytes:
    """A GTFS-Realtime feed for the demo network at `now`: delays, a cancellation, a platform change, an alert.

    Deterministic in `now` (it changes every few minutes), so tests can pin what it says.
    """
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = now
    today = local_date(now, tt.timezone)
    epoch = now // 300  # the simulated situation changes every five minutes
    cancelled_done = moved_done = False
    for day in (today - dt.timedelta(days=1), today):
        origin = service_day_origin(day, tt.timezone)
        running = tt.calendar.active(day)
        for trip, trip_id in enumerate(tt.trip_ids):
            if not running[tt.trip_service[trip]]:
                continue
            a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
            start, end = origin + int(tt.st_dep[a]), origin + int(tt.st_dep[b - 1])
            if end < now - 600 or start > now + 5400:
                continue
            entity = msg.entity.add(id=f"{trip_id}-{format_service_date(day)}")
            tu = entity.trip_update
            tu.trip.trip_id = trip_id
            tu.trip.start_date = format_service_date(day)
            tu.timestamp = now
            route = tt.routes[int(tt.trip_route[trip])].route_id
            if route == "68" and not cancelled_done and start > now:
                tu.trip.schedule_relationship = rt.TripDescriptor.CANCELED
                cancelled_done = True
                continue
            seed = (sum(map(ord, trip_id)) * 7 + epoch * 13) % 11
            delay = 0 if seed < 5 else (seed - 4) * 60 + 20 * (seed % 3)
            stu = tu.stop_time_update.add(stop_sequence=int(tt.st_seq[a]))
            stu.departure.delay = delay
            if not moved_done and route == "54" and start > now:
                for row in range(a, b):
                    if tt.stops[int(tt.st_stop[row])].stop_id == "HBF:C":
                        moved = stu if row == a else tu.stop_time_update.add(stop_sequence=int(tt.st_seq[row]))
                        moved.departure.delay = delay
                        moved.stop_time_properties.assigned_stop_id = "HBF:D"
                        moved_done = True
    _add_alert(msg, now)
    return msg.SerializeToString()


def _add_alert(msg: rt.FeedMessage, now: int) -> None:
    """The demo's alert: line 54 diverted for construction work, in German and English."""
    alert = msg.entity.add(id="demo-bauarbeiten-54").alert
    period = alert.active_period.add()
    period.start, period.end = now - 3600, now + 6 * 3600
    alert.informed_entity.add(route_id="54")
    alert.cause = rt.Alert.CONSTRUCTION
    alert.effect = rt.Alert.DETOUR
    alert.severity_level = rt.Alert.WARNING
    alert.header_text.translation.add(text="Linie 54: Umleitung wegen Bauarbeiten am Höfchen", language="de")
    alert.header_text.translation.add(text="Line 54: detour because of construction work at Höfchen", language="en")
    alert.description_text.translation.add(
        text="Die Haltestelle Höfchen/Listmann entfällt. Bitte nutzen Sie die Ersatzhaltestelle in der Ludwigsstraße.",
        language="de",
    )
    alert.description_text.translation.add(
        text="The Höfchen/Listmann stop is closed. Please use the replacement stop in Ludwigsstraße.", language="en")
