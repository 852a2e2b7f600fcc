"""``smoke``: the smoke test through the real API, as a library (``rehearse``, ``flip`` and
``rollback`` call :func:`run_smoke`) and as a task.

Checks: login, ``/auth/me``, the chat WebSocket (send in a thread, receive it on the same
socket), create + read back + list + cancel a booking, upload + download a file with its sha256.
While the API is frozen the write checks turn into "is this write refused with 503" checks, so
the same smoke test is meaningful inside the maintenance window. The task then downloads a
sample of the uploads that were there before (``verify_uploads``: each file's sha256 against its
row), so a flip onto a host or volume without the files fails the smoke test too; the rehearsal
and the cutover run that check as a step of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.sync.client import connect as ws_connect

from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell
from runbook.smoke_cleanup import SmokeLeftovers, remove_leftovers
from runbook.verify_uploads import DEFAULT_SAMPLE, verify_uploads_or_fail

HTTP_TIMEOUT_S = 10.0
WS_TIMEOUT_S = 10.0
BOOKING_ATTEMPTS = 5
UPLOAD_BYTES = 4096


class CheckFailed(Exception):
    """One smoke check did not hold; the message says what was expected and what came."""


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class SmokeSession:
    """State shared between checks: the HTTP client, tokens, ids of what was created."""

    client: httpx.Client
    base_url: str
    email: str
    password: str
    token: str = ""
    user_id: int = 0
    frozen: bool = False
    created: SmokeLeftovers = field(default_factory=SmokeLeftovers)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def expect(answer: httpx.Response, status: int, what: str) -> dict | list:
    if answer.status_code != status:
        raise CheckFailed(f"{what}: expected {status}, got {answer.status_code}: "
                          f"{answer.text[:200]}")
    return answer.json() if answer.content and "json" in answer.headers.get(
        "content-type", "") else {}


def expect_refused(answer: httpx.Response, what: str) -> str:
    """A write inside the maintenance window: 503 with Retry-After."""
    expect(answer, 503, f"{what} while frozen")
    if "retry-after" not in answer.headers:
        raise CheckFailed(f"{what} while frozen: 503 without Retry-After")
    return f"refused with 503, Retry-After {answer.headers['retry-after']} (frozen)"


def check_login(s: SmokeSession) -> str:
    body = expect(s.client.post("/auth/login", json={"email": s.email, "password": s.password}),
                  200, "POST /auth/login")
    if body.get("token_type") != "bearer" or not body.get("access_token"):
        raise CheckFailed(f"login answered without a bearer token: keys {sorted(body)}")
    s.token = body["access_token"]
    status = expect(s.client.get("/status"), 200, "GET /status")
    s.frozen = bool(status.get("maintenance"))
    return f"logged in as {s.email}" + (" (API is frozen)" if s.frozen else "")


def check_me(s: SmokeSession) -> str:
    body = expect(s.client.get("/auth/me", headers=s.auth), 200, "GET /auth/me")
    if body.get("email") != s.email:
        raise CheckFailed(f"/auth/me names {body.get('email')!r}, expected {s.email!r}")
    s.user_id = int(body["id"])
    return f"user id {s.user_id}"


def _ws_url(base_url: str, token: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/ws", f"token={token}", ""))


def _next_frame(socket, wanted: Callable[[dict], bool], what: str) -> dict:
    """The next frame ``wanted`` accepts; an error frame it does not accept fails the check."""
    deadline = time.monotonic() + WS_TIMEOUT_S
    skipped: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if wanted(frame):
            return frame
        if frame.get("type") == "error":
            raise CheckFailed(f"error frame instead of {what}: {frame}")
        skipped.append(str(frame.get("type")))
    seen = f"; other frames: {', '.join(skipped)}" if skipped else "; no other frame"
    raise CheckFailed(f"no {what} frame within {WS_TIMEOUT_S:.0f} s{seen}")


def check_websocket(s: SmokeSession) -> str:
    thread_id = None
    if not s.frozen:
        thread = expect(s.client.post("/threads", headers=s.auth, json={
            "title": f"smoke {uuid.uuid4().hex[:8]}", "member_ids": [s.user_id]}),
            201, "POST /threads")
        thread_id = s.created.thread_id = thread["id"]
    with ws_connect(_ws_url(s.base_url, s.token), open_timeout=WS_TIMEOUT_S) as socket:
        ready = _next_frame(socket, lambda f: f.get("type") == "ready", "ready")
        thread_ids = ready.get("thread_ids") or []
        if s.frozen:
            if not thread_ids:
                return "connected (frozen, and no thread to send to: send not tried)"
            thread_id = thread_ids[0]
        elif thread_id not in thread_ids:
            raise CheckFailed(f"ready frame lacks the new thread {thread_id}: {thread_ids}")
        ref = uuid.uuid4().hex
        socket.send(json.dumps({"type": "send", "thread_id": thread_id,
                                "body": f"smoke {ref}", "client_ref": ref}))
        if s.frozen:
            error = _next_frame(socket, lambda f: f.get("type") == "error", "error")
            if error.get("status") != 503:
                raise CheckFailed(f"send while frozen answered {error}, expected status 503")
            return f"connected; send refused with 503 in thread {thread_id} (frozen)"
        frame = _next_frame(socket, lambda f: f.get("type") == "message"
                            and f.get("client_ref") == ref, "message echo")
        message = frame["message"]
        if message.get("body") != f"smoke {ref}" or message.get("thread_id") != thread_id:
            raise CheckFailed(f"echoed message differs: {message}")
    return f"sent and received message {message['id']} in thread {thread_id}"


def _after_latest(latest: list) -> dt.datetime:
    """A start just after the latest booking the user sees, so the new one lists first."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if not latest:
        return now + dt.timedelta(days=1)
    return max(now, dt.datetime.fromisoformat(latest[0]["ends_at"])) + dt.timedelta(hours=1)


def _create_booking(s: SmokeSession, room_id: int, start: dt.datetime) -> httpx.Response:
    for attempt in range(BOOKING_ATTEMPTS):
        starts = start + dt.timedelta(days=attempt)
        answer = s.client.post("/bookings", headers=s.auth, json={
            "room_id": room_id, "title": "smoke test", "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(minutes=30)).isoformat(),
            "notes": "created by invoke smoke; cancelled right after"})
        if answer.status_code != 409:
            break
    return answer


def check_bookings(s: SmokeSession) -> str:
    rooms = expect(s.client.get("/rooms", headers=s.auth), 200, "GET /rooms")
    if not rooms:
        raise CheckFailed("GET /rooms is empty: no room to book")
    latest = expect(s.client.get("/bookings", headers=s.auth, params={"limit": 1}), 200,
                    "GET /bookings")
    answer = _create_booking(s, rooms[0]["id"], _after_latest(latest))
    if s.frozen:
        return expect_refused(answer, "POST /bookings")
    booking = expect(answer, 201, "POST /bookings")
    listed = expect(s.client.get("/bookings", headers=s.auth, params={"limit": 5}), 200,
                    "GET /bookings")
    if booking["id"] not in [item["id"] for item in listed]:
        raise CheckFailed(f"booking {booking['id']} is not at the top of GET /bookings")
    again = expect(s.client.get(f"/bookings/{booking['id']}", headers=s.auth), 200,
                   "GET /bookings/{id}")
    if again.get("title") != "smoke test" or again.get("room_id") != rooms[0]["id"]:
        raise CheckFailed(f"booking {booking['id']} reads back differently: {again}")
    cancelled = expect(s.client.post(f"/bookings/{booking['id']}/cancel", headers=s.auth), 200,
                       "POST /bookings/{id}/cancel")
    if cancelled.get("status") != "cancelled":
        raise CheckFailed(f"cancel left status {cancelled.get('status')!r}")
    return f"booking {booking['id']} created, listed, read back, cancelled"


def check_uploads(s: SmokeSession) -> str:
    payload = os.urandom(UPLOAD_BYTES)
    digest = hashlib.sha256(payload).hexdigest()
    answer = s.client.post("/uploads", headers=s.auth, files={
        "file": ("smoke check.bin", payload, "application/octet-stream")})
    if s.frozen:
        return expect_refused(answer, "POST /uploads")
    meta = expect(answer, 201, "POST /uploads")
    s.created.upload_id = meta["id"]
    if meta.get("sha256") != digest or meta.get("size_bytes") != UPLOAD_BYTES:
        raise CheckFailed(f"upload metadata differs: sha256 {meta.get('sha256')} "
                          f"size {meta.get('size_bytes')}, expected {digest} {UPLOAD_BYTES}")
    content = s.client.get(f"/uploads/{meta['id']}/content", headers=s.auth)
    if content.status_code != 200 or hashlib.sha256(content.content).hexdigest() != digest:
        raise CheckFailed(f"download of upload {meta['id']} differs (status "
                          f"{content.status_code}, {len(content.content)} bytes)")
    return f"upload {meta['id']} round-tripped, sha256 {digest[:12]}…"


CHECKS: list[tuple[str, Callable[[SmokeSession], str]]] = [
    ("login", check_login), ("me", check_me), ("websocket", check_websocket),
    ("bookings", check_bookings), ("uploads", check_uploads),
]


def run_smoke(base_url: str, email: str, password: str,
              report: Callable[[CheckResult], None] | None = None,
              created: SmokeLeftovers | None = None) -> list[CheckResult]:
    """Run every check in order (stopping after a failed login); report each as it ends.

    ``created`` collects the ids of what the checks made, for :func:`remove_leftovers`.
    """
    results: list[CheckResult] = []
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
        session = SmokeSession(client=client, base_url=base_url, email=email, password=password,
                               created=created if created is not None else SmokeLeftovers())
        for name, check in CHECKS:
            started = time.monotonic()
            try:
                result = CheckResult(name, True, check(session), 0.0)
            except (CheckFailed, httpx.HTTPError, OSError, KeyError, ValueError) as exc:
                result = CheckResult(name, False, f"{type(exc).__name__}: {exc}", 0.0)
            result.seconds = round(time.monotonic() - started, 3)
            results.append(result)
            if report:
                report(result)
            if name in ("login", "me") and not result.ok:
                break
    return results


def format_result(result: CheckResult) -> str:
    return f"{'PASS' if result.ok else 'FAIL'} {result.name:<10} {result.seconds:6.2f} s  " \
           f"{result.detail}"


def smoke_or_fail(shell: Shell, cfg: RunbookConfig) -> list[dict]:
    """Run the smoke test, print a line per check, remove what it created, raise when any
    check failed."""
    shell.say(f"smoke test against {cfg.api_url} as {cfg.smoke_email}")
    if shell.dry_run:
        shell.say("[dry-run] would run: " + ", ".join(name for name, _ in CHECKS)
                  + "; then remove the thread, message and upload it creates")
        return []
    created = SmokeLeftovers()
    try:
        results = run_smoke(cfg.api_url, cfg.smoke_email, cfg.smoke_password,
                            report=lambda r: shell.say(format_result(r)), created=created)
    finally:
        if created:
            for line in remove_leftovers(cfg, created):
                shell.say(line)
    failed = [r.name for r in results if not r.ok]
    if failed or len(results) < len(CHECKS):
        raise RunbookError(f"smoke test failed: {', '.join(failed)}")
    return [asdict(r) for r in results]


@runbook_task(help={
    "api_url": "base URL of the running API (default: API_URL)",
    "email": "account to log in with (default: SMOKE_EMAIL)",
    "password": "its password (default: SMOKE_PASSWORD); never printed",
    "uploads_sample": "how many existing uploads to download and check against their rows "
                      f"(default {DEFAULT_SAMPLE}; 0: none)",
    "dry_run": "say which checks would run against which API; send nothing",
})
def smoke(ctx, api_url: str | None = None, email: str | None = None,
          password: str | None = None, uploads_sample: int = DEFAULT_SAMPLE,
          dry_run: bool = False) -> None:
    """[rehearsal 5] Smoke test the running API: login, me, WebSocket, bookings, uploads, then a
    sample of the existing uploads downloaded and checked against their rows (sha256)."""
    cfg = config_from(ctx).with_overrides(api_url=api_url, smoke_email=email,
                                          smoke_password=password)
    shell = Shell(dry_run=dry_run)
    failures = []
    for check in (lambda: smoke_or_fail(shell, cfg),
                  lambda: verify_uploads_or_fail(shell, cfg, sample=uploads_sample)):
        try:
            check()
        except RunbookError as exc:  # both run: one report names every problem
            failures.append(str(exc))
    if failures:
        raise RunbookError("\n".join(failures))
