"""The cutover runbook as a library: one module per runbook step, driven by ``tasks.py``."""
