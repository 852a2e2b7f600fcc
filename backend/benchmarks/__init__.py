"""The benchmarks: the migration (``python -m benchmarks.migration``) and the API under load
(``python -m benchmarks.load``). Commands that print figures, never tests."""
