"""Tables as text, drawn by rich: the migration's end table, ``monitor``, the load benchmark.

:func:`render_table` gives Markdown-style pipes (readable in a log, pasteable into docs) with
no colour or escape codes, whatever the output is; :func:`rich_table` is the same table as a
rich renderable, for a live view on a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

from rich import box
from rich.console import Console
from rich.table import Table


def rich_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
               right: Collection[int] = (), title: str | None = None,
               table_box: box.Box = box.MARKDOWN) -> Table:
    """A rich table; columns whose index is in ``right`` are right-aligned (figures)."""
    table = Table(box=table_box, title=title, title_justify="left", highlight=False)
    for index, name in enumerate(header):
        table.add_column(str(name), justify="right" if index in right else "left",
                         overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def render_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                 right: Collection[int] = ()) -> str:
    """The table as plain text: ``| a | b |`` lines, a ``|---|`` rule under the header."""
    console = Console(file=io.StringIO(), width=100_000, color_system=None,
                      force_terminal=False, markup=False, emoji=False, highlight=False)
    console.print(rich_table(header, rows, right=right))
    lines = console.file.getvalue().splitlines()
    return "\n".join(line.rstrip() for line in lines if line.strip())
