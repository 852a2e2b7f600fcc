"""The benchmark's result rows and the Markdown table they print as."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.migration.measure import Measurement


@dataclass
class Step:
    """One row of the result table.

    ``split`` is the migration command's own account of its time (from its JSON report):
    seconds before the load (plan + preflight), in the load, in verify.
    """

    name: str
    measurement: Measurement
    rows: int
    note: str = ""
    split: tuple[float, float, float] | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.measurement.seconds if self.measurement.seconds else 0.0


def split_from_report(report: dict) -> tuple[float, float, float]:
    """(before the load, load, verify) seconds from a migration command's JSON report.

    Both engines run verify inside their load (``finish``), so the report's load seconds hold
    it; "before the load" is the rest of the command's own time (plan, repair check, preflight).
    """
    verify = report["verification"]["seconds"]
    load = report["load"]["seconds"]
    return report["seconds"] - load, load - verify, verify


def median_steps(rounds: list[list[Step]]) -> list[Step]:
    """Each step's median round (by wall time; the lower middle of an even count), noting
    every round's wall time when there was more than one, and (but for the limit, each round's
    first step) its time over the limit's of the same round."""
    steps = []
    for position, same in enumerate(zip(*rounds, strict=True)):
        ordered = sorted(same, key=lambda step: step.measurement.seconds)
        median = ordered[(len(ordered) - 1) // 2]
        if len(same) > 1:
            walls = " / ".join(f"{step.measurement.seconds:.1f}" for step in same)
            parts = [median.note, f"median of {len(same)} rounds: {walls} s"]
            if position:
                parts.append("× that round's limit: " + " / ".join(
                    f"{step.measurement.seconds / steps_of_round[0].measurement.seconds:.2f}"
                    for step, steps_of_round in zip(same, rounds, strict=True)))
            median.note = "; ".join(part for part in parts if part)
        steps.append(median)
    return steps


def format_table(steps: list[Step]) -> str:
    """The result table (Markdown); "× limit" is each step's wall time over the limit's."""
    limit = steps[0].measurement.seconds
    lines = ["| step | wall s | rows/s | × limit | peak RSS MB | preflight s | load s | verify s "
             "| note |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for step in steps:
        seconds = step.measurement.seconds
        split = " | ".join(f"{part:.1f}" for part in step.split) if step.split else " |  | "
        lines.append(f"| {step.name} | {seconds:.1f} | {step.rows_per_second:,.0f} | "
                     f"{seconds / limit:.2f} | {step.measurement.peak_rss_mb:.0f} | {split} | "
                     f"{step.note} |")
    return "\n".join(lines)
