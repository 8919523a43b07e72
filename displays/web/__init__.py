"""The service over HTTP: the aiohttp app, pulled frames, live pages, TRMNL, the dashboard, status and
the admin endpoints (templates/ and static/ are package data)."""
