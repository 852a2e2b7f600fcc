"""Progress on stderr: a bar per table with rows/s on a terminal, plain lines otherwise.

Plain-line mode (pipes, CI, log files) prints ``<table>: loading N rows`` when a table starts,
a line every ``PLAIN_INTERVAL_S`` seconds while it runs, and ``<table>: N rows in S s (R rows/s)``
when it ends. ``quiet`` silences everything.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28
TTY_INTERVAL_S = 0.1
PLAIN_INTERVAL_S = 5.0


def rate(rows: int, seconds: float) -> float:
    """Rows per second (0 when no time has passed)."""
    return rows / seconds if seconds > 0 else 0.0


class Progress:
    """Per-table progress for a long load; every method is cheap enough to call per chunk."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self._table = ""
        self._total: int | None = None
        self._done = 0
        self._started = 0.0
        self._last_shown = 0.0

    def note(self, text: str) -> None:
        """One plain line (a step starting, a finding)."""
        self._write(text + "\n")

    def start_table(self, table: str, total_rows: int | None) -> None:
        """A table starts loading; ``total_rows`` may be unknown (None)."""
        self._table, self._total, self._done = table, total_rows, 0
        self._started = self._last_shown = time.monotonic()
        if self.tty:
            self._draw()
        else:
            size = "" if total_rows is None else f" {total_rows:,} rows"
            self._write(f"{table}: loading{size}\n")

    def advance(self, rows: int) -> None:
        """``rows`` more rows of the current table are done."""
        self._done += rows
        now = time.monotonic()
        interval = TTY_INTERVAL_S if self.tty else PLAIN_INTERVAL_S
        if now - self._last_shown >= interval:
            self._last_shown = now
            if self.tty:
                self._draw()
            else:
                self._write(f"{self._table}: {self._status(now)}\n")

    def finish_table(self, rows: int, seconds: float) -> None:
        """The current table is done: ``rows`` rows in ``seconds``."""
        self._done = rows
        speed = rate(rows, seconds)
        line = f"{self._table}: {rows:,} rows in {seconds:.2f} s ({speed:,.0f} rows/s)"
        self._write(("\r\033[K" if self.tty else "") + line + "\n")

    def _status(self, now: float) -> str:
        elapsed = now - self._started
        total = f"/{self._total:,}" if self._total else ""
        return f"{self._done:,}{total} rows, {rate(self._done, elapsed):,.0f} rows/s"

    def _draw(self) -> None:
        fraction = min(1.0, self._done / self._total) if self._total else 0.0
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._write(f"\r\033[K{self._table} [{bar}] {fraction:4.0%} "
                    f"{self._status(time.monotonic())}")

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        self.stream.write(text)
        self.stream.flush()
