"""Percentiles and summaries of latency samples (seconds in, milliseconds out)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencySummary:
    """Count and latency figures of one sample set, in milliseconds (None when empty)."""

    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None


def summarize(seconds: Iterable[float]) -> LatencySummary:
    """p50/p95/p99/max/mean of latencies given in seconds."""
    ordered = sorted(seconds)
    if not ordered:
        return LatencySummary(0, None, None, None, None, None)
    millis = [value * 1000.0 for value in ordered]
    # percentiles by linear interpolation between the closest ranks (numpy's default);
    # one sample is every percentile
    cuts = (statistics.quantiles(millis, n=100, method="inclusive") if len(millis) > 1
            else millis * 99)
    return LatencySummary(
        count=len(millis),
        p50_ms=cuts[49],
        p95_ms=cuts[94],
        p99_ms=cuts[98],
        max_ms=millis[-1],
        mean_ms=statistics.fmean(millis),
    )


@dataclass(frozen=True)
class GaugeSummary:
    """Maximum and mean of a sampled gauge (e.g. database connections), None when unsampled."""

    samples: int
    max: int | None
    mean: float | None


def summarize_gauge(samples: Sequence[int]) -> GaugeSummary:
    """Max and mean of gauge readings."""
    if not samples:
        return GaugeSummary(0, None, None)
    return GaugeSummary(len(samples), max(samples), sum(samples) / len(samples))
