"""Traffic against a running API while its database comes and goes, recorded per phase.

``Traffic`` runs a few client threads sending a bounded, mixed stream (GET /auth/me, POST
/bookings, GET /readyz), each answer recorded as an ``Outcome`` with the phase it was sent in.
``worker_pids(port)`` names uvicorn's worker processes, so a test can tell that none restarted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from dataclasses import dataclass

import httpx
import psutil
import pytest

from app.errors import DB_RETRY_AFTER_SECONDS

FAILURE_BOUND_S = 10.0  # any answer slower than this is a hang: the test fails
WAIT_BOUND_S = 30.0  # how long a test waits for a state it expects before failing
RETRY_AFTER = str(DB_RETRY_AFTER_SECONDS)
FIRST_WINDOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
EXPECTED = {"me": {200, 503}, "book": {201, 503}, "ready": {200, 503}}
REQUESTS_PER_THREAD = 3000  # the bound of the stream; the test stops it long before


def wait_until(condition, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after WAIT_BOUND_S."""
    deadline = time.monotonic() + WAIT_BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_BOUND_S:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Outcome:
    """One request of the traffic: when it was sent, what it was, how the API answered."""

    phase: str  # "before->after" when the phase changed while the request was out
    kind: str
    status: int | None  # None: no HTTP answer at all (reset, timeout)
    retry_after: str | None = None
    booking_id: int | None = None
    error: str | None = None

    @property
    def acceptable(self) -> bool:
        if self.status not in EXPECTED[self.kind]:
            return False
        return self.status != 503 or self.retry_after == RETRY_AFTER


class Traffic:
    """A few client threads sending mixed requests until stopped (bounded per thread)."""

    def __init__(self, base_url: str, headers: dict[str, str], room_id: int) -> None:
        self.base_url, self.headers, self.room_id = base_url, headers, room_id
        self.phase = "up"
        self.outcomes: list[Outcome] = []
        self._windows = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _seen(self, phase: str, kind: str, status: int) -> bool:
        with self._lock:
            wrong = next((o for o in self.outcomes if not o.acceptable), None)
            if wrong is not None:
                pytest.fail(f"unacceptable answer during the traffic: {wrong}")
            return any(o.phase == phase and o.kind == kind and o.status == status
                       for o in self.outcomes)

    def wait_for(self, phase: str, kind: str, status: int) -> None:
        """Wait (bounded) until ``kind`` answered ``status`` in ``phase``; fail at a bad answer."""
        wait_until(lambda: self._seen(phase, kind, status),
                    f"{kind} to answer {status} ({phase})")

    def _send(self, client: httpx.Client, kind: str) -> httpx.Response:
        if kind == "me":
            return client.get("/auth/me", headers=self.headers)
        if kind == "ready":
            return client.get("/readyz")
        with self._lock:
            starts_at = FIRST_WINDOW + dt.timedelta(hours=next(self._windows))
        return client.post("/bookings", headers=self.headers, json={
            "room_id": self.room_id, "title": "under traffic", "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + dt.timedelta(hours=1)).isoformat()})

    def _run(self, first: int) -> None:
        kinds = itertools.islice(itertools.cycle(sorted(EXPECTED)), first,
                                 first + REQUESTS_PER_THREAD)
        with httpx.Client(base_url=self.base_url, timeout=FAILURE_BOUND_S) as client:
            for kind in kinds:
                if self._stop.is_set():
                    return
                sent_in = self.phase
                try:
                    response = self._send(client, kind)
                except httpx.HTTPError as exc:
                    response, error = None, repr(exc)
                phase = sent_in if sent_in == self.phase else f"{sent_in}->{self.phase}"
                if response is None:
                    outcome = Outcome(phase, kind, None, error=error)
                else:
                    booked = response.json().get("id") if response.status_code == 201 else None
                    outcome = Outcome(phase, kind, response.status_code,
                                      response.headers.get("Retry-After"), booked)
                with self._lock:
                    self.outcomes.append(outcome)
                time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(3)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(FAILURE_BOUND_S * 2)


def _listens_on(process: psutil.Process, port: int) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for c in process.net_connections(kind="tcp"))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def worker_pids(port: int) -> frozenset[int]:
    """The uvicorn worker processes: holders of the listening socket whose parent holds it too."""
    holders = {process.pid for process in psutil.process_iter() if _listens_on(process, port)}
    return frozenset(pid for pid in holders if psutil.Process(pid).ppid() in holders)
