"""The throwaway PostgreSQL a new user's rehearsal and the tests stand on."""

import contextlib

import psycopg2
import pytest

from foundation.throwaway_postgres import (
    NoPostgresAvailable,
    create_database,
    drop_database,
    provide_server,
)

pytestmark = pytest.mark.requires_pg


def _query(url: str, statement: str):
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchone()


def test_temporary_cluster_runs_and_is_removed_afterwards() -> None:
    with provide_server({}, prefer=("cluster",)) as server:
        assert server.kind == "cluster"
        assert _query(server.url, "SELECT 1") == (1,)
        url = server.url
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)


def test_external_url_is_used_as_given_and_never_stopped(pg_server) -> None:
    with provide_server({"PG_TEST_URL": pg_server.url}) as server:
        assert server.kind == "external"
    assert _query(pg_server.url, "SELECT 1") == (1,)


def test_database_owned_by_a_non_superuser_role(pg_server) -> None:
    url = create_database(pg_server.url, owner="cutover_app")
    try:
        user, superuser, owner = _query(url, """
            SELECT current_user, r.rolsuper, pg_get_userbyid(d.datdba)
            FROM pg_roles r, pg_database d
            WHERE r.rolname = current_user AND d.datname = current_database()""")
        assert (user, superuser, owner) == ("cutover_app", False, "cutover_app")
    finally:
        drop_database(pg_server.url, url.rsplit("/", 1)[-1])


def test_nothing_available_says_what_to_provide() -> None:
    with pytest.raises(NoPostgresAvailable) as excinfo:
        with provide_server({}, prefer=()):
            pass
    message = str(excinfo.value)
    for hint in ("PG_TEST_URL", "Docker", "apt-get install postgresql"):
        assert hint in message


def test_owner_url_does_not_inherit_the_admin_password(pg_server) -> None:
    admin_with_password = pg_server.url.replace("postgres@", "postgres:admin-secret@", 1)
    url = create_database(admin_with_password, owner="cutover_app")
    try:
        assert "admin-secret" not in url
        assert url.startswith("postgresql://cutover_app@")
    finally:
        drop_database(pg_server.url, url.rsplit("/", 1)[-1])
