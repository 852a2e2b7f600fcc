"""A PostgreSQL server to work against, for a new user's rehearsal and for the tests.

In order: ``PG_TEST_URL`` when set; a Docker container where an engine answers; else a temporary
cluster from the local server binaries (``initdb`` + ``pg_ctl`` on a free port), removed
afterwards. When none is possible, the error says which of the three to provide.

``DB_URL`` and ``SQLALCHEMY_DATABASE_URL`` are never taken: they name the cutover target and the
API's database, not a server to create and drop databases on.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from foundation.database_urls import libpq_url, redact_url, with_database
from foundation.database_variables import TEST_SERVER_URL, sandbox_server_url
from foundation.polling import poll_until

POSTGRES_IMAGE = "postgres:15"
READY_TIMEOUT_S = 60.0


class NoPostgresAvailable(RuntimeError):
    """None of the three ways to get a PostgreSQL server worked."""


@dataclass
class PostgresServer:
    """A reachable server: ``url`` names its maintenance database as a superuser or owner."""

    url: str
    kind: str  # "external" | "docker" | "cluster"
    _stop: object = field(default=None, repr=False)

    def stop(self) -> None:
        if callable(self._stop):
            self._stop()

    def __str__(self) -> str:
        return f"{self.kind} PostgreSQL at {redact_url(self.url)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_postgres(url: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll with a real ``SELECT 1`` until the server answers (no blind sleeps)."""

    def select_1() -> None:
        with contextlib.closing(psycopg2.connect(libpq_url(url), connect_timeout=2)) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")

    try:
        poll_until(select_1, timeout=timeout, interval=0.2, retry_on=(psycopg2.OperationalError,))
    except psycopg2.OperationalError as exc:
        raise TimeoutError(f"PostgreSQL at {redact_url(url)} did not answer within "
                           f"{timeout:.0f} s: {exc}") from None


def server_bindir() -> Path | None:
    """The directory of ``initdb``/``pg_ctl``: ``pg_config --bindir``, else the Debian layout."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


class TemporaryCluster:
    """A throwaway cluster from the local binaries; runs as the ``postgres`` OS user under root."""

    def __init__(self, bindir: Path, port: int | None = None) -> None:
        self.bindir = bindir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pgtmp-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # KeyError when there is no such user
            shutil.chown(self.root, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [*self._as_user, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = done.stderr.strip() or done.stdout.strip()
            raise RuntimeError(f"{' '.join(args[:2])} failed: {detail}")

    def init(self) -> TemporaryCluster:
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                  "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                  "-o", options, "-w", "-t", "60", "start")
        wait_for_postgres(self.url)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate — immediate is a crash)."""
        if (self.datadir / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w",
                      "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _docker_server() -> PostgresServer | None:
    try:
        import docker  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception:  # any failure means "no engine answers"
        return None
    port = free_port()
    container = client.containers.run(
        POSTGRES_IMAGE, detach=True, remove=True, name=f"cutover-pg-{uuid.uuid4().hex[:8]}",
        environment={"POSTGRES_HOST_AUTH_METHOD": "trust"}, ports={"5432/tcp": ("127.0.0.1", port)},
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        wait_for_postgres(url)
    except TimeoutError:
        container.stop()
        raise
    return PostgresServer(url=url, kind="docker", _stop=container.stop)


def start_cluster() -> PostgresServer:
    """A temporary cluster from the local binaries, or NoPostgresAvailable saying why not."""
    bindir = server_bindir()
    if bindir is None:
        raise NoPostgresAvailable(_what_to_provide("no initdb found (install postgresql)"))
    try:
        cluster = TemporaryCluster(bindir).init()
        cluster.start()
    except (RuntimeError, KeyError, TimeoutError) as exc:
        raise NoPostgresAvailable(_what_to_provide(f"temporary cluster failed: {exc}")) from exc
    return PostgresServer(url=cluster.url, kind="cluster", _stop=cluster.remove)


def _what_to_provide(reason: str) -> str:
    return (
        f"No PostgreSQL server could be had ({reason}). Provide one of: "
        f"(1) {TEST_SERVER_URL} naming a server you may create databases on "
        "(DB_URL, the cutover target, is never used for this), "
        "e.g. postgresql://postgres@127.0.0.1:5432/postgres; "
        "(2) a running Docker engine (and the Python 'docker' package) for a postgres container; "
        "(3) the PostgreSQL server binaries (apt-get install postgresql) for a temporary cluster."
    )


@contextlib.contextmanager
def provide_server(
    environ: Mapping[str, str] = os.environ,
    prefer: tuple[str, ...] = ("external", "docker", "cluster"),
) -> Iterator[PostgresServer]:
    """Yield a server by the documented order and tear down whatever was started for it."""
    server: PostgresServer | None = None
    external = sandbox_server_url(environ)
    if "external" in prefer and external:
        server = PostgresServer(url=libpq_url(external, source=TEST_SERVER_URL), kind="external")
    if server is None and "docker" in prefer:
        server = _docker_server()
    if server is None and "cluster" in prefer:
        server = start_cluster()
    if server is None:
        raise NoPostgresAvailable(_what_to_provide("nothing configured"))
    try:
        yield server
    finally:
        server.stop()


def create_database(admin_url: str, name: str | None = None, owner: str | None = None) -> str:
    """Create a fresh database (and, with ``owner``, a login role owning it); return its URL."""
    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(psycopg2.connect(libpq_url(admin_url))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            if owner:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)))
            else:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(libpq_url(admin_url), name)
    if owner:
        # URL.set() ignores None, so the admin's password would be handed on: replace it.
        url = (make_url(url)._replace(username=owner, password=None)
               .render_as_string(hide_password=False))
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database, ending any sessions still connected to it."""
    with contextlib.closing(psycopg2.connect(libpq_url(admin_url))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                        .format(sql.Identifier(name)))
