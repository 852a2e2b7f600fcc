"""Writes through the real API for the online benchmark: one client creating bookings, each in
its own half hour far beyond the generated data, timing every accepted write."""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx

BASE_START = dt.datetime(2400, 1, 1, tzinfo=dt.UTC)  # after every generated booking


@dataclass
class ApiWriter:
    """Logs in once, then creates bookings in room 1; ``latencies`` holds accepted writes' s."""

    api_url: str
    email: str
    password: str
    latencies: list[float] = field(default_factory=list)
    refused: int = 0
    _number: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.api_url, timeout=30.0)
        answer = self.client.post("/auth/login", json={"email": self.email,
                                                        "password": self.password})
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def write(self) -> None:
        """One booking; its latency is kept when the API accepted it."""
        self._number += 1
        starts = BASE_START + dt.timedelta(minutes=30 * self._number)
        body = {"room_id": 1, "title": f"bench-{self._number}", "starts_at": starts.isoformat(),
                "ends_at": (starts + dt.timedelta(minutes=20)).isoformat()}
        started = time.perf_counter()
        answer = self.client.post("/bookings", headers=self.headers, json=body)
        if answer.status_code == 201:
            self.latencies.append(time.perf_counter() - started)
        else:
            self.refused += 1

    def measure(self, count: int) -> dict[str, float]:
        """``count`` sequential writes: p50 and p99 latency in ms."""
        self.latencies = []
        for _ in range(count):
            self.write()
        return percentiles(self.latencies)

    def start(self, pause: float) -> None:
        """Keep writing from a thread (``pause`` s between writes) until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(pause,), daemon=True)
        self._thread.start()

    def _run(self, pause: float) -> None:
        while not self._stop.is_set():
            self.write()
            self._stop.wait(pause)

    def stop(self) -> int:
        """Stop the thread; how many writes it made."""
        self._stop.set()
        if self._thread:
            self._thread.join(60)
        return len(self.latencies)

    def close(self) -> None:
        self.client.close()


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p99 in milliseconds."""
    if len(seconds) < 2:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "writes": len(seconds)}
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_ms": round(statistics.median(seconds) * 1000, 2),
            "p99_ms": round(cuts[98] * 1000, 2), "writes": len(seconds)}
