"""The node that owns every I/O of the service: the running loop, the MQTT link, the stores (SQLite,
PostgreSQL), the GTFS fetch, the clock, the rendering pool, the speech synthesizer, metrics and the audit
log. It feeds the pure core and sends what the core decides."""
