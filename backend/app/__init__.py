"""The booking API: FastAPI + SQLAlchemy 2.0, on SQLite today, on PostgreSQL after cutover."""
