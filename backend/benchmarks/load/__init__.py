"""The multi-worker load benchmark of the booking API (``python -m benchmarks.load --help``).

It starts the real API (uvicorn, one or more workers) on SQLite and on PostgreSQL, drives it with
a fixed number of concurrent clients running a mixed workload (logins, bookings, lists, uploads,
WebSocket chat), runs a WebSocket reconnect storm, and prints one table of figures.
Every load goes to 127.0.0.1 only; every loop is bounded in count and in time.
"""
