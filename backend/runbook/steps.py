"""Timed, announced steps for the composite tasks (rehearse, cutover, rollback)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from runbook.report import StepRecord
from runbook.shell import Shell


class StepRunner:
    """Announces each step, times it and keeps a record of how it ended."""

    def __init__(self, shell: Shell, records: list[StepRecord] | None = None,
                 prefix: str = "") -> None:
        self.shell = shell
        self.records = records if records is not None else []
        self.prefix = prefix  # put before every step's name (e.g. "online: ")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        name = self.prefix + name
        number = len(self.records) + 1
        self.shell.say(f"\n== step {number}: {name}")
        record = StepRecord(name=name, seconds=0.0, ok=False)
        self.records.append(record)
        started = time.monotonic()
        try:
            yield record
            record.ok = True
        finally:
            record.seconds = round(time.monotonic() - started, 3)
            outcome = "ok" if record.ok else "FAILED"
            self.shell.say(f"== step {number}: {name}: {outcome} in {record.seconds:.2f} s"
                           + (f" ({record.detail})" if record.detail else ""))
