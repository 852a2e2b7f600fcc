"""``python -m benchmarks.migration``: run the migration benchmark and print its table."""

from benchmarks.migration.run import main

if __name__ == "__main__":
    raise SystemExit(main())
