"""The one config model of the service: typed, frozen and validated once at load (`model`), checked
against the timetable (`check`), with the `[service]` table of a deployment (`instances`) and the
named admin tokens (`operators`)."""
