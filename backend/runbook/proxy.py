"""``proxy``: the database connection next to the API.

Production: the Cloud SQL Auth Proxy — the ``cloud-sql-proxy`` binary when it is on PATH, else
``compose/cloud-sql-proxy.yml`` when a Docker engine answers, else a clear message. Credentials:
a Workload Identity Federation file (``external_account``, via GOOGLE_APPLICATION_CREDENTIALS)
is preferred; a service-account key works but is warned about. ``--local``: reuse a PostgreSQL
that answers at the target URL, else start ``compose/postgres.yml``, else say what to do.
``--stop``: stop the proxy binary this task started (its pid is kept in ``run_dir/proxy.pid``).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import psutil

from foundation.database_urls import redact_url
from foundation.polling import NotYet, poll_until
from foundation.throwaway_postgres import wait_for_postgres
from foundation.uvicorn_runner import signal_group
from runbook.compose import compose_command, require_engine
from runbook.config import PROJECT_ROOT, RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell

ACCEPT_TIMEOUT_S = 60.0


def credentials_kind(path: Path | None) -> str:
    """``external_account`` (WIF), ``service_account`` (key file) or ``ambient`` (none given)."""
    if path is None:
        return "ambient"
    try:
        kind = json.loads(Path(path).read_text(encoding="utf-8")).get("type")
    except (OSError, ValueError) as exc:
        raise RunbookError(f"GOOGLE_APPLICATION_CREDENTIALS={path} is not a readable JSON "
                           f"credentials file ({type(exc).__name__})") from None
    if kind not in ("external_account", "service_account", "authorized_user"):
        raise RunbookError(f"{path}: unknown credentials type {kind!r}")
    return kind


def describe_credentials(shell: Shell, cfg: RunbookConfig) -> None:
    kind = credentials_kind(cfg.google_credentials)
    if kind == "external_account":
        shell.say(f"credentials: Workload Identity Federation ({cfg.google_credentials})")
    elif kind == "service_account":
        shell.say(f"WARNING: credentials are a service-account key ({cfg.google_credentials}); "
                  "use a short-lived key and delete it after the cutover — Workload Identity "
                  "Federation (an external_account file) is preferred")
    elif kind == "authorized_user":
        shell.say("WARNING: credentials are a user's gcloud login; fine for a test, not for "
                  "production (prefer Workload Identity Federation)")
    else:
        shell.say("credentials: none given; the proxy uses the ambient identity (metadata "
                  "server or gcloud). Set GOOGLE_APPLICATION_CREDENTIALS to a WIF file.")


def proxy_binary_command(cfg: RunbookConfig) -> list[str]:
    command = ["cloud-sql-proxy", cfg.cloud_sql_instance or "", "--address", "127.0.0.1",
               "--port", str(cfg.proxy_port)]
    if cfg.google_credentials:
        command += ["--credentials-file", str(cfg.google_credentials)]
    return command


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = ACCEPT_TIMEOUT_S) -> None:
    def connect() -> None:
        if not accepts_connections(host, port):
            raise NotYet(f"nothing accepts connections on {host}:{port}")

    try:
        poll_until(connect, timeout=timeout, interval=0.25)
    except NotYet as exc:
        raise RunbookError(f"{exc} after {timeout:.0f} s") from None


def start_cloud_sql_proxy(shell: Shell, cfg: RunbookConfig) -> None:
    """Binary on PATH (background, log in run_dir), else compose, else a clear message."""
    if not cfg.cloud_sql_instance:
        raise RunbookError("set CLOUD_SQL_INSTANCE=project:region:instance (or use --local)")
    if accepts_connections("127.0.0.1", cfg.proxy_port):
        shell.say(f"something already listens on 127.0.0.1:{cfg.proxy_port}; reusing it")
        return
    describe_credentials(shell, cfg)
    if shutil.which("cloud-sql-proxy"):
        command = proxy_binary_command(cfg)
        shell.say(f"$ {shell.describe(command)} &  (log: {cfg.path(cfg.run_dir)}/proxy.log)")
        if shell.dry_run:
            return
        log = cfg.path(cfg.run_dir) / "proxy.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        proxy_pid_path(cfg).write_text(str(process.pid))
    else:
        require_engine("the Cloud SQL Auth Proxy (no cloud-sql-proxy binary on PATH)",
                       "install the proxy binary (https://cloud.google.com/sql/docs/postgres/"
                       "sql-proxy#install) so it runs without Docker")
        shell.run(compose_command("cloud-sql-proxy", "up", "-d", "--wait"), cwd=PROJECT_ROOT,
                  env={"CLOUD_SQL_INSTANCE": cfg.cloud_sql_instance,
                       "PROXY_PORT": str(cfg.proxy_port),
                       "GOOGLE_APPLICATION_CREDENTIALS": str(cfg.google_credentials or "")})
    if not shell.dry_run:
        wait_for_port("127.0.0.1", cfg.proxy_port)
        shell.say(f"proxy accepts connections on 127.0.0.1:{cfg.proxy_port}")


def proxy_pid_path(cfg: RunbookConfig) -> Path:
    return cfg.path(cfg.run_dir) / "proxy.pid"


def stop_cloud_sql_proxy(shell: Shell, cfg: RunbookConfig) -> None:
    """Stop the proxy binary started by ``invoke proxy`` (its process group); say if none ran."""
    path = proxy_pid_path(cfg)
    try:
        pid = int(path.read_text().strip())
        running = "cloud-sql-proxy" in " ".join(psutil.Process(pid).cmdline())
    except (FileNotFoundError, ValueError, psutil.Error):
        running = False
    if not running:
        shell.say(f"no proxy started by the runbook is running (pid file {path})")
        path.unlink(missing_ok=True)
        return
    if shell.dry_run:
        shell.say(f"[dry-run] would stop the proxy (pid {pid})")
        return
    signal_group(pid, signal.SIGTERM)
    path.unlink(missing_ok=True)
    shell.say(f"proxy stopped (pid {pid}); a compose proxy is stopped with "
              f"`{shell.describe(compose_command('cloud-sql-proxy', 'down'))}`")


def start_local_postgres(shell: Shell, cfg: RunbookConfig) -> None:
    """Reuse the PostgreSQL at DB_URL when it answers; else compose/postgres.yml; else explain."""
    url = cfg.target_url
    if url:
        try:
            wait_for_postgres(url, timeout=3)
            shell.say(f"reusing the PostgreSQL that answers at {redact_url(url)}")
            return
        except TimeoutError:
            shell.say(f"no PostgreSQL answers at {redact_url(url)}; starting one")
    require_engine("starting a local PostgreSQL container (compose/postgres.yml)",
                   "install PostgreSQL locally (apt-get install postgresql) and set DB_URL to "
                   "it, or run `invoke rehearse`, which starts a temporary cluster by itself")
    shell.run(compose_command("postgres", "up", "-d", "--wait"), cwd=PROJECT_ROOT)
    if not shell.dry_run:
        wait_for_port("127.0.0.1", 5432)


@runbook_task(help={
    "local": "start or reuse a local PostgreSQL instead of the Cloud SQL Auth Proxy",
    "stop": "stop the proxy binary that an earlier `invoke proxy` started",
    "dry_run": "say what would be started; start nothing",
})
def proxy(ctx, local: bool = False, stop: bool = False, dry_run: bool = False) -> None:
    """[rehearsal 1 / cutover 2] Start the Cloud SQL Auth Proxy (--local: a Postgres); wait."""
    cfg = config_from(ctx)
    shell = Shell(dry_run=dry_run)
    if stop:
        stop_cloud_sql_proxy(shell, cfg)
    elif local:
        start_local_postgres(shell, cfg)
    else:
        start_cloud_sql_proxy(shell, cfg)
