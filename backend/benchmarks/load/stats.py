"""Percentiles and summaries of latency samples (seconds in, milliseconds out)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile of ascending values, by linear interpolation.

    Raises ValueError for an empty sequence or a fraction outside 0..1.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"percentile fraction must be within 0..1, got {fraction}")
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


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
    return LatencySummary(
        count=len(millis),
        p50_ms=percentile(millis, 0.50),
        p95_ms=percentile(millis, 0.95),
        p99_ms=percentile(millis, 0.99),
        max_ms=millis[-1],
        mean_ms=sum(millis) / len(millis),
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
