"""``freeze`` / ``unfreeze``: the maintenance flag in the API's current database.

The flag is written with ``app.maintenance.set_maintenance`` into the database the API uses now
(its env file's URL), so every worker process sees it. Success is only reported once the API
itself behaves accordingly: a write probe (an unauthenticated ``POST /bookings``, which can never
create anything) answers 503 while frozen and something else once unfrozen.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
from sqlalchemy import Engine

from app.maintenance import MaintenanceStatus, read_maintenance, set_maintenance
from app.settings import Settings, load_settings
from foundation.database_urls import redact_url, sqlalchemy_url
from foundation.polling import NotYet, poll_until
from runbook.api_env_file import current_database_url, current_env
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell

DEFAULT_MESSAGE = "Database upgrade in progress; writes are paused for a few minutes."
PROBE_PATH = "/bookings"
POLL_S = 0.25
IN_FLIGHT_GRACE_S = 1.0  # a write that passed the gate before the flag finishes


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    """A short-lived engine for the API's database (SQLite pragmas included), disposed after."""
    from app.db import make_engine

    engine = make_engine(load_settings(sqlalchemy_database_url=sqlalchemy_url(url), db_pool_size=1,
                                       db_max_overflow=0))
    try:
        yield engine
    finally:
        engine.dispose()


def read_flag(url: str) -> MaintenanceStatus:
    with engine_for(url) as engine:
        return read_maintenance(engine)


def write_flag(url: str, enabled: bool, message: str | None) -> MaintenanceStatus:
    with engine_for(url) as engine:
        return set_maintenance(engine, enabled, message)


def write_probe(api_url: str) -> int:
    """Status of a write that can never succeed (no token, empty body): 503 means frozen."""
    return httpx.post(f"{api_url}{PROBE_PATH}", json={}, timeout=5.0).status_code


def wait_for_api(api_url: str, frozen: bool, timeout: float) -> int:
    """Poll the write probe until the API refuses (frozen) or accepts-then-validates writes."""

    def probe() -> int:
        try:
            status = write_probe(api_url)
        except httpx.HTTPError as exc:
            raise NotYet(f"{type(exc).__name__} from {api_url}") from None
        if (status == 503) != frozen:
            raise NotYet(f"write probe answered {status}")
        return status

    try:
        return poll_until(probe, timeout=timeout, interval=POLL_S)
    except NotYet as last:
        state = "refuse writes with 503" if frozen else "accept writes again"
        raise RunbookError(f"the flag is written, but the API at {api_url} did not {state} "
                           f"within {timeout:.0f} s ({last}); is API_URL the API that uses "
                           "this database?") from None


def flag_settle_seconds(cfg: RunbookConfig) -> float:
    """How long after writing the flag every worker is sure to act on it.

    Each API worker caches the flag for MAINTENANCE_CACHE_SECONDS (from the API's env file, else
    the API's default); a write that passed the gate just before that may still be committing,
    so IN_FLIGHT_GRACE_S is added. Probing earlier could be answered by an up-to-date worker
    while another still accepts writes.
    """
    configured = current_env(cfg).get("MAINTENANCE_CACHE_SECONDS")
    cache_s = (float(configured) if configured
               else Settings.model_fields["maintenance_cache_seconds"].default)
    return cache_s + IN_FLIGHT_GRACE_S


def carry_freeze(shell: Shell, old_url: str, new_url: str) -> None:
    """Give the new database the old one's freeze state before the API switches to it."""
    state = read_flag(old_url)
    write_flag(new_url, state.enabled, state.message)
    shell.say(f"maintenance flag carried to {redact_url(new_url)}: "
              f"{'frozen' if state.enabled else 'not frozen'}")


def set_freeze(shell: Shell, cfg: RunbookConfig, enabled: bool, message: str | None) -> None:
    """Read the flag, say what will change, write it, then wait until the API agrees."""
    url = current_database_url(cfg)
    before = read_flag(url)
    verb = "freeze" if enabled else "unfreeze"
    shell.say(f"{verb}: API database {redact_url(url)}; flag now "
              f"{'ON' if before.enabled else 'off'}"
              + (f" ({before.message})" if before.message else ""))
    if before.enabled == enabled and not enabled:
        shell.say("already unfrozen; checking that the API accepts writes")
    shell.require_confirmation(f"{verb} writes of the API at {cfg.api_url}?")
    if shell.dry_run:
        shell.say(f"[dry-run] would set maintenance enabled={enabled} and probe "
                  f"POST {cfg.api_url}{PROBE_PATH}")
        return
    write_flag(url, enabled, message if enabled else None)
    settle = flag_settle_seconds(cfg)
    shell.say(f"flag written; waiting {settle:.1f} s for every API worker to act on it")
    time.sleep(settle)
    status = wait_for_api(cfg.api_url, frozen=enabled, timeout=cfg.freeze_timeout)
    after = read_flag(url)
    if after.enabled != enabled:
        raise RunbookError(f"maintenance flag in {redact_url(url)} is {after.enabled}, "
                           f"expected {enabled}; another operator may be changing it")
    shell.say(f"{verb} ok: the API answers a write probe with {status}")


@runbook_task(help={
    "message": "banner text shown in /status and the X-Maintenance header",
    "yes": "do not ask for confirmation",
    "dry_run": "say what would change; write nothing",
})
def freeze(ctx, message: str = DEFAULT_MESSAGE, yes: bool = False, dry_run: bool = False) -> None:
    """[cutover 1] Freeze writes: maintenance banner on, writes 503, reads + WebSocket stay up."""
    set_freeze(Shell(dry_run=dry_run, assume_yes=yes), config_from(ctx), True, message)


@runbook_task(help={
    "yes": "do not ask for confirmation",
    "dry_run": "say what would change; write nothing",
})
def unfreeze(ctx, yes: bool = False, dry_run: bool = False) -> None:
    """[cutover 6a] Unfreeze writes: banner off; checks the API accepts writes again."""
    set_freeze(Shell(dry_run=dry_run, assume_yes=yes), config_from(ctx), False, None)
