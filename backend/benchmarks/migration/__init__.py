"""The migration benchmark (``python -m benchmarks.migration --help``, ``nox -s bench``)."""
