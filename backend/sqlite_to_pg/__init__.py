"""The cutover library: everything the runbook tasks drive to move SQLite data into PostgreSQL."""
