"""Progress on stderr: a rich bar per table with rows/s on a terminal, plain lines otherwise.

Plain-line mode (pipes, CI, log files) prints ``<table>: loading N rows`` when a table starts,
a line every ``PLAIN_INTERVAL_S`` seconds while it runs, and ``<table>: N rows in S s (R rows/s)``
when it ends; the same end line stays on a terminal when the bar goes. ``quiet`` silences
everything.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TaskProgressColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

PLAIN_INTERVAL_S = 5.0


def rate(rows: int, seconds: float) -> float:
    """Rows per second (0 when no time has passed)."""
    return rows / seconds if seconds > 0 else 0.0


class RowsPerSecond(ProgressColumn):
    """The bar's speed column, in rows rather than bytes."""

    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


class Progress:
    """Per-table progress for a long load; every method is cheap enough to call per chunk."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self._console = Console(file=self.stream, force_terminal=self.tty, markup=False,
                                highlight=False, emoji=False)
        self._bar: RichProgress | None = None
        self._table = ""
        self._total: int | None = None
        self._done = 0
        self._started = 0.0
        self._last_shown = 0.0

    def note(self, text: str) -> None:
        """One plain line (a step starting, a finding); printed above a running bar."""
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            self._write(text + "\n")

    def start_table(self, table: str, total_rows: int | None) -> None:
        """A table starts loading; ``total_rows`` may be unknown (None)."""
        self._table, self._total, self._done = table, total_rows, 0
        self._started = self._last_shown = time.monotonic()
        if self.quiet:
            return
        if self.tty:
            self._bar = RichProgress("{task.description}", BarColumn(), TaskProgressColumn(),
                                     MofNCompleteColumn(), RowsPerSecond(),
                                     console=self._console, transient=True)
            self._bar.add_task(table, total=total_rows)
            self._bar.start()
        else:
            size = "" if total_rows is None else f" {total_rows:,} rows"
            self._write(f"{table}: loading{size}\n")

    def advance(self, rows: int) -> None:
        """``rows`` more rows of the current table are done."""
        self._done += rows
        if self._bar is not None:
            self._bar.advance(self._bar.task_ids[0], rows)
            return
        now = time.monotonic()
        if not self.tty and now - self._last_shown >= PLAIN_INTERVAL_S:
            self._last_shown = now
            total = f"/{self._total:,}" if self._total else ""
            speed = rate(self._done, now - self._started)
            self._write(f"{self._table}: {self._done:,}{total} rows, {speed:,.0f} rows/s\n")

    def finish_table(self, rows: int, seconds: float) -> None:
        """The current table is done: ``rows`` rows in ``seconds``."""
        self._done = rows
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self._write(f"{self._table}: {rows:,} rows in {seconds:.2f} s "
                    f"({rate(rows, seconds):,.0f} rows/s)\n")

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        self.stream.write(text)
        self.stream.flush()
