"""Measuring one benchmark step: wall time and peak memory of a command's whole process tree.

The command runs as a child process; a thread samples the resident memory (RSS) of the child
and all its descendants with psutil every ``SAMPLE_SECONDS`` and keeps the peak of the sum, and
the peak of each program by name (so pgloader's own RSS is reported beside the tree's).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

SAMPLE_SECONDS = 0.05
MB = 1024 * 1024


@dataclass
class Measurement:
    """What one measured command did."""

    seconds: float
    returncode: int
    peak_rss: int
    peak_rss_by_program: dict[str, int] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / MB

    def program_rss_mb(self, program: str) -> float | None:
        """Peak RSS of the named program alone (e.g. ``pgloader``), None if it never ran."""
        found = self.peak_rss_by_program.get(program)
        return None if found is None else found / MB


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = psutil.Process(pid)
        self.stop = threading.Event()
        self.peak = 0
        self.by_program: dict[str, int] = {}

    def _sample(self) -> None:
        total = 0
        per_program: dict[str, int] = {}
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            try:
                rss = process.memory_info().rss
                name = process.name()
            except psutil.Error:
                continue
            total += rss
            per_program[name] = per_program.get(name, 0) + rss
        self.peak = max(self.peak, total)
        for name, rss in per_program.items():
            self.by_program[name] = max(self.by_program.get(name, 0), rss)

    def run(self) -> None:
        while not self.stop.is_set():
            self._sample()
            self.stop.wait(SAMPLE_SECONDS)


def measure(command: Sequence[str], env: dict[str, str] | None = None) -> Measurement:
    """Run ``command`` to the end; its wall seconds, exit status, output and peak tree RSS."""
    started = time.monotonic()
    process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    sampler = _TreeSampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    return Measurement(seconds=seconds, returncode=process.returncode, peak_rss=sampler.peak,
                       peak_rss_by_program=sampler.by_program, stdout=stdout, stderr=stderr)
