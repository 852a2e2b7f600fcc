"""The type table's Python side against Postgres itself: for many values of each type, the
canonical text computed from the SQLite form equals what the Postgres side prints for the
value Postgres stores from that text (so verify's two sides can only differ on real changes)."""

from __future__ import annotations

import ipaddress
import random

import pytest

from sqlite_to_pg.catalog import TargetColumn
from sqlite_to_pg.type_functions import (
    interval_text,
    mac_text,
    network_text,
    timetz_text,
)
from sqlite_to_pg.values import converter_for

pytestmark = pytest.mark.requires_pg


def _column(type_name: str) -> TargetColumn:
    return TargetColumn(name="v", type_name=type_name, type_sql=type_name, not_null=False,
                        has_default=False)


def _printed(cur, type_name: str, texts: list[str]) -> list[str]:
    """What the Postgres side (``pg_sql``) prints for each text stored as ``type_name``."""
    shown = converter_for(_column(type_name)).pg_sql("v")
    cur.execute(f"SELECT {shown} FROM unnest(%s::text[]::{type_name}[]) WITH ORDINALITY "
                "AS u(v, n) ORDER BY n", (texts,))
    return [row[0] for row in cur.fetchall()]


def _ipv6_samples(count: int) -> list[str]:
    rng = random.Random(9)
    samples = ["::", "::1", "::2", "::0.0.1.0", "::1.2.3.4", "::ffff:1.2.3.4", "::ffff:0:0",
               "1::", "0:0:1::", "1:0:0:1:0:0:1:1", "1:0:1:0:1:0:1:0", "fe80::1:2", "::1:0",
               "::ffff:1:2", "0:0:0:0:0:1:0:0", "64:ff9b::192.0.2.33", "2001:db8::"]
    for _ in range(count):
        words = [rng.choice([0, 0, 0, 1, 0xFFFF, rng.randrange(65536)]) for _ in range(8)]
        samples.append(str(ipaddress.IPv6Address(b"".join(w.to_bytes(2, "big")
                                                        for w in words))))
    return samples


def test_inet_and_cidr_text_is_what_postgres_prints(pg_cursor):
    inet = ["192.168.0.1", "10.0.0.1/8", "0.0.0.0/0", "255.255.255.255"] + _ipv6_samples(300)
    inet += [f"{address}/64" for address in _ipv6_samples(20)]
    assert [network_text(text, 0) for text in inet] == _printed(pg_cursor, "inet", inet)
    cidr = ["10.0.0.0/8", "192.168.1.0/24", "::/0", "2001:db8::/32", "1.2.3.4", "::1"]
    assert [network_text(text, 1) for text in cidr] == _printed(pg_cursor, "cidr", cidr)


def test_mac_text_is_what_postgres_prints(pg_cursor):
    six = ["08:00:2b:01:02:03", "08-00-2B-01-02-03", "08002b:010203", "08002b-010203",
           "0800.2b01.0203", "0800-2b01-0203", "08002b010203"]
    eight = six + ["08:00:2b:01:02:03:04:05", "0800:2b01:0203:0405", "08002b0102030405"]
    assert [mac_text(text, 6) for text in six] == _printed(pg_cursor, "macaddr", six)
    assert [mac_text(text, 8) for text in eight] == _printed(pg_cursor, "macaddr8", eight)


def test_timetz_text_is_what_postgres_prints(pg_cursor):
    texts = ["12:34:56", "12:34:56.500000", "00:00:00.000001+05:30", "23:59:59-08",
             "01:02:03Z", "01:02+0130", "10:00:00 -03:00", "12:00:00-00:00"]
    stored = [text.replace("Z", "+00") for text in texts]
    assert [timetz_text(text) for text in texts] == _printed(pg_cursor, "timetz", stored)


def test_interval_text_is_what_postgres_prints(pg_cursor):
    values = [0, 1, -1, 86_400_000_000, -86_400_000_001, 123_456_789_012_345,
              "1970-01-01 00:00:00.000000", "1969-12-31 23:59:59.999999",
              "1970-02-03 04:05:06.000007", "1860-06-26 00:00:00.000000"]
    texts = [interval_text(value) for value in values]
    assert texts == _printed(pg_cursor, "interval", texts)
