"""Live write traffic for the cutover tests: a thread that keeps creating bookings.

Every attempt is recorded with a unique title and how it ended (HTTP status, or no answer at
all while the API restarts), so a test can check afterwards which writes were accepted, which
were refused with 503, and where each accepted one ended up.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

import httpx

PAUSE_S = 0.02
BASE_START = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


@dataclass
class Attempt:
    title: str
    status: int | None  # None: no answer (connection refused during a restart)
    booking_id: int | None = None


@dataclass
class WriteTraffic:
    """Creates one booking per attempt, each in its own hour, as a non-admin user."""

    api_url: str
    email: str
    password: str
    room_id: int
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WriteTraffic:
        self._thread = threading.Thread(target=self._run, name="write-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Attempt]:
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        return self.snapshot()

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def wait_for(self, status: int, count: int = 1, timeout: float = 60.0) -> None:
        """Block until ``count`` attempts with ``status`` were recorded (test synchronisation)."""
        deadline = time.monotonic() + timeout
        while sum(a.status == status for a in self.snapshot()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} writes with status {status} in {timeout} s")
            time.sleep(0.05)

    def _token(self, client: httpx.Client) -> str | None:
        try:
            answer = client.post("/auth/login", json={"email": self.email,
                                                      "password": self.password})
        except httpx.HTTPError:
            return None
        return answer.json()["access_token"] if answer.status_code == 200 else None

    def _run(self) -> None:
        token = None
        number = 0
        with httpx.Client(base_url=self.api_url, timeout=10.0) as client:
            while not self._stop.is_set():
                token = token or self._token(client)
                if token is None:
                    time.sleep(0.2)
                    continue
                number += 1
                starts = BASE_START + dt.timedelta(hours=number)
                title = f"traffic-{number}"
                try:
                    answer = client.post("/bookings", headers={"Authorization": f"Bearer {token}"},
                                         json={"room_id": self.room_id, "title": title,
                                               "starts_at": starts.isoformat(),
                                               "ends_at": (starts + dt.timedelta(minutes=30))
                                               .isoformat()})
                    attempt = Attempt(title, answer.status_code,
                                      answer.json().get("id") if answer.status_code == 201
                                      else None)
                except httpx.TransportError:
                    attempt = Attempt(title, None)
                    time.sleep(0.1)
                with self._lock:
                    self.attempts.append(attempt)
                if attempt.status == 401:
                    token = None
                time.sleep(PAUSE_S)
