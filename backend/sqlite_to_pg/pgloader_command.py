"""Running pgloader on scripts/migrate.load: its environment, the subprocess and its summary.

pgloader fills the load file's ``{{{CUTOVER_…}}}`` placeholders from its environment, and reads
the password from ``PGPASSWORD``: no secret is ever written to a file or shown on a command line.
It exits 0 even when rows were rejected, so the caller must recount; this module only reports
what pgloader said (per table: errors, rows read, rows imported; the ERROR lines it logged).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from foundation.database_urls import libpq_url, redact_text
from foundation.sqlite_files import open_read_only
from sqlite_to_pg.engines import EngineUnavailable

PGLOADER = "pgloader"
LOAD_FILE = Path(__file__).resolve().parents[2] / "scripts" / "migrate.load"
DEFAULT_WORKERS = 4
DEFAULT_BATCH_ROWS = 25_000
ERROR_LINES_KEPT = 20

_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (?P<level>[A-Z]+) (?P<message>.*)$")
_QUOTED_NAME = r'(?:"(?:[^"]|"")*"\.)?"(?:[^"]|"")*"'
_SUMMARY_ROW = re.compile(
    rf"^\s*(?P<name>{_QUOTED_NAME})\s+(?P<errors>\d+)\s+(?P<read>\d+)\s+(?P<imported>\d+)\s"
    r".*?\s(?P<seconds>\d+\.\d+)s\b")
_PR_SET_PDEATHSIG = 1


class PgloaderUnavailable(EngineUnavailable):
    """pgloader is not installed, or the load cannot be expressed as a pgloader command."""


@dataclass(frozen=True)
class TableSummary:
    """One table's line of pgloader's summary."""

    table: str
    errors: int
    read: int
    imported: int
    seconds: float


@dataclass
class PgloaderRun:
    """What one pgloader process did: exit status, per-table summary, the errors it logged."""

    returncode: int
    tables: dict[str, TableSummary] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def killed_by(self) -> str | None:
        """The signal name when pgloader died of a signal, else None."""
        if self.returncode >= 0:
            return None
        return signal.Signals(-self.returncode).name

    def describe_failure(self) -> str:
        """A one-paragraph account of why this run cannot be trusted ("" when it can't tell)."""
        parts = []
        if self.killed_by:
            parts.append(f"pgloader was killed by {self.killed_by}")
        elif self.returncode != 0:
            parts.append(f"pgloader exited with status {self.returncode}")
        parts.extend(self.errors[:3])
        return "; ".join(parts)


def pgloader_path() -> str:
    """The pgloader executable, or PgloaderUnavailable saying how to install it."""
    found = shutil.which(PGLOADER)
    if found is None:
        raise PgloaderUnavailable(
            "pgloader is not installed (apt-get install -y pgloader); use --engine copy instead")
    return found


def unquote_identifier(quoted: str) -> str:
    """``"My""Table"`` → ``My"Table``; a schema-qualified name keeps only the table part."""
    parts = re.findall(r'"((?:[^"]|"")*)"', quoted)
    return parts[-1].replace('""', '"') if parts else quoted


def parse_summary(lines: Sequence[str]) -> dict[str, TableSummary]:
    """Per-table rows of pgloader's ``--verbose`` summary (errors, read, imported, seconds)."""
    tables: dict[str, TableSummary] = {}
    for line in lines:
        match = _SUMMARY_ROW.match(line)
        if match:
            name = unquote_identifier(match["name"])
            tables[name] = TableSummary(name, int(match["errors"]), int(match["read"]),
                                        int(match["imported"]), float(match["seconds"]))
    return tables


def include_list(sqlite_path: Path, tables: Sequence[str]) -> str:
    """The ``INCLUDING ONLY TABLE NAMES LIKE`` list selecting exactly ``tables``, or refuse.

    pgloader hands these patterns to SQLite's LIKE (``_`` and ``%`` are wildcards, ASCII case is
    ignored), so the list is checked against the source itself: it must select no other table.
    """
    for name in tables:
        if "'" in name:
            raise PgloaderUnavailable(
                f"table {name!r}: pgloader cannot name a table containing a quote; "
                "use --engine copy")
    patterns = ", ".join(f"'{name}'" for name in tables)
    with contextlib.closing(open_read_only(sqlite_path)) as conn:
        where = " OR ".join("name LIKE ?" for _ in tables)
        rows = conn.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'table' AND ({where})", list(tables))
        selected = {row[0] for row in rows}
    extra = sorted(selected - set(tables))
    if extra:
        raise PgloaderUnavailable(
            f"pgloader's table filter would also select {', '.join(extra)} (its LIKE patterns "
            "cannot be exact for these names); use --engine copy")
    return patterns


def pgloader_environment(sqlite_path: Path, target_url: str, schema: str,
                         tables: Sequence[str], *, workers: int = DEFAULT_WORKERS,
                         batch_rows: int = DEFAULT_BATCH_ROWS) -> dict[str, str]:
    """The environment that fills scripts/migrate.load (the password only as PGPASSWORD)."""
    url = make_url(libpq_url(target_url))
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    environment.update({
        "CUTOVER_SQLITE": str(sqlite_path),
        "CUTOVER_PG_USER": url.username or os.environ.get("PGUSER", "postgres"),
        "CUTOVER_PG_HOST": url.host or "localhost",
        "CUTOVER_PG_PORT": str(url.port or 5432),
        "CUTOVER_PG_DBNAME": url.database or "",
        "CUTOVER_PG_SSLMODE": str(url.query.get("sslmode", "prefer")),
        "CUTOVER_PG_SCHEMA": schema,
        "CUTOVER_TABLES": include_list(sqlite_path, tables),
        "CUTOVER_WORKERS": str(workers),
        "CUTOVER_BATCH_ROWS": str(batch_rows),
    })
    return environment


@contextlib.contextmanager
def safe_source_path(sqlite_path: Path) -> Iterator[Path]:
    """A path to the source that pgloader's URL syntax can carry (a symlink in a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="cutover-pgloader-") as workdir:
        link = Path(workdir) / "source.sqlite"
        link.symlink_to(sqlite_path.resolve())
        yield link


def _find_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return None


_PRCTL = _find_prctl()  # looked up here, not in the forked child


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so a killed run leaves no loader behind."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _error_text(line: str) -> str | None:
    match = _LOG_LINE.match(line)
    if match and match["level"] in ("ERROR", "FATAL"):
        return match["message"]
    return None


def run_pgloader(environment: dict[str, str], *, load_file: Path = LOAD_FILE,
                 on_line: Callable[[str], None] | None = None,
                 on_start: Callable[[subprocess.Popen], None] | None = None) -> PgloaderRun:
    """Run pgloader on ``load_file`` and stream its output; never raises on a failed load.

    ``on_line`` receives each output line (already redacted); ``on_start`` the process, e.g. to
    record its pid. The returned run holds the exit status, the summary and the ERROR lines.
    """
    with tempfile.TemporaryDirectory(prefix="cutover-pgloader-root-") as root_dir:
        command = [pgloader_path(), "--verbose", "--root-dir", root_dir, str(load_file)]
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8", errors="replace", preexec_fn=_die_with_parent)
        if on_start is not None:
            on_start(process)
        output: list[str] = []
        errors: list[str] = []
        assert process.stdout is not None
        for raw in process.stdout:
            line = redact_text(raw.rstrip("\n"))
            output.append(line)
            error = _error_text(line)
            if error is not None and len(errors) < ERROR_LINES_KEPT:
                errors.append(error)
            elif line.startswith("CONTEXT:") and errors:
                errors[-1] = f"{errors[-1]} ({line})"
            if on_line is not None:
                on_line(line)
        returncode = process.wait()
    return PgloaderRun(returncode=returncode, tables=parse_summary(output), errors=errors)


def command_for_display(load_file: Path = LOAD_FILE) -> str:
    """The pgloader command line as shown to the operator (it never carries a secret)."""
    return f"{PGLOADER} --verbose --root-dir <tmp> {load_file}"
