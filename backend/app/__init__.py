"""The booking API: FastAPI + SQLAlchemy 2.0, on SQLite today and on PostgreSQL after the cutover."""
