"""The mixed workload: each client is one user with one socket, running random operations.

Operations (default weights in ``config.WORKLOAD_MIX``, ``--mix`` changes them): log in again,
create a booking in a random room and hour (a 409 from the overlap check is an expected
conflict), list own bookings, list rooms, upload a small file, and send a chat message into the
shared thread, waiting for its echo.
Every delivery of a message to any member's socket is timed from the moment it was sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from benchmarks.load.config import BenchConfig
from benchmarks.load.database import SeedData, SeededUser
from benchmarks.load.results import Recorder
from benchmarks.load.wsclient import HandshakeFailed, describe_close, open_socket

MAX_RECONNECTS = 3
SETUP_CONCURRENCY = 4  # logins before the window at a time: argon2 is slow on purpose
DRAIN_TIMEOUT_S = 3.0


@dataclass
class SharedState:
    """What all clients of one run share: the recorder and the send time of every message."""

    recorder: Recorder
    seed: SeedData
    setup: Recorder = field(default_factory=Recorder)  # logins and sockets before the window
    sent_at: dict[str, float] = field(default_factory=dict)
    open_sockets: int = 0


class Client:
    """One logged-in user: an HTTP client, one WebSocket, and a deterministic random stream."""

    def __init__(self, index: int, user: SeededUser, config: BenchConfig, base_url: str,
                 ws_url: str, shared: SharedState) -> None:
        self.index = index
        self.user = user
        self.config = config
        self.ws_url = ws_url
        self.shared = shared
        self.record = shared.setup
        self.rng = random.Random(config.seed * 1000 + index)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=config.request_timeout_s)
        self.token: str | None = None
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task | None = None
        self.pending: dict[str, asyncio.Future[str | None]] = {}
        self.reconnects = 0
        self.sequence = 0
        self.first_day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0,
                                                         microsecond=0) + dt.timedelta(days=1)

    # -- HTTP -------------------------------------------------------------------------------
    async def call(self, op: str, method: str, path: str, expected: int,
                   **kwargs) -> httpx.Response | None:
        """One timed request; anything but ``expected`` (or a booking's 409) is recorded."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        started = time.perf_counter()
        try:
            answer = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            self.record.error(op, "timeout", f"{method} {path}: {exc.__class__.__name__}",
                              seconds=time.perf_counter() - started)
            return None
        except httpx.TransportError as exc:
            self.record.error(op, "connection", f"{method} {path}: {exc.__class__.__name__}: "
                              f"{exc}", seconds=time.perf_counter() - started)
            return None
        elapsed = time.perf_counter() - started
        status = answer.status_code
        if status == expected:
            self.record.ok(op, elapsed)
        elif status == 409 and op == "create_booking":
            self.record.conflict(op, elapsed)
        else:
            kind = "5xx" if status >= 500 else "4xx"
            self.record.error(op, kind, f"{method} {path} -> {status}: {answer.text[:200]}",
                              seconds=elapsed, status=status)
            return None
        return answer

    async def login(self) -> bool:
        credentials = {"email": self.user.email, "password": self.shared.seed.password}
        answer = await self.call("login", "POST", "/auth/login", 200, json=credentials)
        if answer is not None:
            self.token = answer.json()["access_token"]
        return answer is not None

    async def create_booking(self) -> None:
        starts = self.first_day + dt.timedelta(days=self.rng.randrange(self.config.booking_days),
                                               hours=self.rng.randrange(8, 18))
        body = {"room_id": self.rng.choice(self.shared.seed.room_ids),
                "title": f"Load client {self.index}", "starts_at": starts.isoformat(),
                "ends_at": (starts + dt.timedelta(hours=1)).isoformat()}
        await self.call("create_booking", "POST", "/bookings", 201, json=body)

    async def list_bookings(self) -> None:
        await self.call("list_bookings", "GET", "/bookings", 200, params={"limit": 20})

    async def list_rooms(self) -> None:
        await self.call("list_rooms", "GET", "/rooms", 200)

    async def upload(self) -> None:
        size = self.rng.randint(*self.config.upload_bytes)
        payload = self.rng.randbytes(size)
        name = f"bench-{self.index}-{self.sequence}.bin"
        self.sequence += 1
        await self.call("upload", "POST", "/uploads", 201,
                        files={"file": (name, payload, "application/octet-stream")})

    # -- WebSocket --------------------------------------------------------------------------
    async def connect_socket(self) -> bool:
        """Open the socket (after a login) and start reading it; a failure is a ws error."""
        try:
            self.socket, ready = await open_socket(self.ws_url, self.token or "",
                                                   self.config.storm_handshake_timeout_s)
        except HandshakeFailed as exc:
            self.record.error("ws_message", "ws", f"handshake: {exc}")
            return False
        if self.shared.seed.thread_id not in ready.get("thread_ids", []):
            self.record.error("ws_message", "ws", f"ready frame lacks the thread: {ready}")
        self.shared.open_sockets += 1
        self.reader = asyncio.create_task(self.read_frames(self.socket))
        return True

    async def read_frames(self, socket: ClientConnection) -> None:
        """Time every chat message delivered to this socket; resolve this client's echoes."""
        try:
            async for raw in socket:
                received = time.perf_counter()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    self.record.error("ws_message", "ws", f"frame is not JSON: {str(raw)[:100]}")
                    continue
                self.on_frame(frame, received)
        except ConnectionClosed as exc:
            self.on_closed(describe_close(exc))
            return
        self.on_closed(describe_close(ConnectionClosed(socket.close_rcvd, socket.close_sent)))

    def on_frame(self, frame: dict, received: float) -> None:
        if frame.get("type") == "message":
            ref = str(frame.get("message", {}).get("body", "")).removeprefix("bench ")
            sent = self.shared.sent_at.get(ref)
            if sent is not None:
                self.record.delivered(received - sent)
            waiter = self.pending.pop(ref, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif frame.get("type") == "error":
            self.fail_pending(f"error frame: {frame.get('status', '')} {frame.get('detail')}")

    def on_closed(self, how: str) -> None:
        if self.socket is not None:
            self.shared.open_sockets -= 1
        self.socket = None
        self.fail_pending(f"socket {how}")

    def fail_pending(self, detail: str) -> None:
        for waiter in self.pending.values():
            if not waiter.done():
                waiter.set_result(detail)
        self.pending.clear()

    async def send_message(self) -> None:
        """Send into the shared thread and wait for the echo on this client's own socket."""
        if self.socket is None:
            if self.reconnects >= MAX_RECONNECTS:
                return
            self.reconnects += 1
            if not await self.connect_socket():
                return
        assert self.socket is not None
        ref = f"{self.index}-{self.sequence}"
        self.sequence += 1
        waiter: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.pending[ref] = waiter
        frame = {"type": "send", "thread_id": self.shared.seed.thread_id, "body": f"bench {ref}",
                 "client_ref": ref}
        started = time.perf_counter()
        self.shared.sent_at[ref] = started
        self.record.message_sent(self.shared.open_sockets)
        try:
            await self.socket.send(json.dumps(frame))
            async with asyncio.timeout(self.config.ws_echo_timeout_s):
                problem = await waiter
        except ConnectionClosed as exc:
            problem = f"send failed: socket {describe_close(exc)}"
        except TimeoutError:
            problem = f"no echo within {self.config.ws_echo_timeout_s:.0f} s"
        self.pending.pop(ref, None)
        if problem is None:
            self.record.ok("ws_message", time.perf_counter() - started)
        else:
            self.record.error("ws_message", "ws", problem)

    # -- the loop ---------------------------------------------------------------------------
    async def start(self, gate: asyncio.Semaphore) -> bool:
        """Log in and open the socket (recorded apart from the measured window).

        True when the login worked (a client without a token does not run); a socket that
        failed to open is retried by the first chat message.
        """
        async with gate:
            logged_in = await self.login()
            if logged_in:
                await self.connect_socket()
        self.record = self.shared.recorder
        return logged_in

    async def run(self, deadline: float) -> None:
        """Random operations until the deadline or the per-client request bound."""
        operations = {"login": self.login, "create_booking": self.create_booking,
                      "list_bookings": self.list_bookings, "list_rooms": self.list_rooms,
                      "upload": self.upload, "ws_message": self.send_message}
        names = [name for name, _ in self.config.mix]
        weights = [weight for _, weight in self.config.mix]
        for _ in range(self.config.max_requests_per_client):
            if time.perf_counter() >= deadline:
                break
            await operations[self.rng.choices(names, weights)[0]]()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.socket is not None:
            await self.socket.close()
        await self.http.aclose()


async def run_workload(config: BenchConfig, seed: SeedData, base_url: str,
                       ws_url: str) -> tuple[Recorder, float]:
    """Run ``config.clients`` clients for ``config.duration_s``; return the record and wall time."""
    shared = SharedState(Recorder(), seed)
    clients = [Client(n, seed.users[n], config, base_url, ws_url, shared)
               for n in range(config.clients)]
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    try:
        ready = await asyncio.gather(*(client.start(gate) for client in clients))
        running = [client for client, ok in zip(clients, ready, strict=True) if ok]
        shared.recorder.clients_running = len(running)
        started = time.perf_counter()
        await asyncio.gather(*(client.run(started + config.duration_s) for client in running))
        wall = time.perf_counter() - started
        await _drain(shared)
        shared.recorder.absorb_failures(shared.setup)
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return shared.recorder, wall


async def _drain(shared: SharedState) -> None:
    """Give messages still in flight a bounded moment to reach every socket."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    while (len(shared.recorder.deliveries) < shared.recorder.ws_expected_deliveries
           and time.perf_counter() < deadline):
        await asyncio.sleep(0.05)
