"""The online cutover benchmark: ``python -m benchmarks.online`` (see ``run``)."""
