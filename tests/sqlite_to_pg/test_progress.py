"""The load's progress: plain lines off a terminal, a rich bar on one, nothing with --quiet."""

from __future__ import annotations

import io

from sqlite_to_pg.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _load(progress: Progress) -> None:
    progress.note("preflight [rooms]")
    progress.start_table("rooms", 300)
    for _ in range(3):
        progress.advance(100)
    progress.note("inside the bar")
    progress.finish_table(300, 0.5)


def test_plain_lines_when_not_on_a_terminal():
    stream = io.StringIO()
    _load(Progress(stream))
    assert stream.getvalue().splitlines() == [
        "preflight [rooms]", "rooms: loading 300 rows", "inside the bar",
        "rooms: 300 rows in 0.50 s (600 rows/s)"]


def test_a_bar_with_rows_per_second_on_a_terminal_then_the_same_end_line():
    stream = _Terminal()
    _load(Progress(stream))
    out = stream.getvalue()
    assert "\x1b[" in out and "300/300" in out and "rows/s" in out
    assert "preflight [rooms]\n" in out and "inside the bar" in out  # notes keep brackets
    assert out.endswith("rooms: 300 rows in 0.50 s (600 rows/s)\n")


def test_quiet_prints_nothing_even_on_a_terminal():
    stream = _Terminal()
    _load(Progress(stream, quiet=True))
    assert stream.getvalue() == ""
