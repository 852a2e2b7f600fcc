"""Python fallbacks behind ``sqlite_to_pg.type_table``: the Postgres types beyond the common ones.

Like ``value_functions``, each function is installed on the SQLite connection and returns the
canonical text ``type_table`` documents (what the Postgres side prints for the stored value),
or, for the ``*_problem`` functions, the preflight category of a value that cannot be loaded
exactly (None when it can). They never guess: a form not listed here is a finding.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal, InvalidOperation

from sqlite_to_pg.value_functions import decimal_text, float_text

MICROSECONDS_PER_DAY = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1)
_SQLALCHEMY_INTERVAL = re.compile(
    r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?")


def _text(value) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- interval

def interval_parts(value) -> tuple[int, int] | None:
    """(days, microseconds within the day) of a stored duration, or None.

    An integer is Django's ``DurationField`` (microseconds); a ``YYYY-MM-DD HH:MM:SS[.f]`` text
    is SQLAlchemy's ``Interval`` (a datetime counted from 1970-01-01). Both split the way
    Python's ``timedelta`` does, which is what either ORM writes on Postgres.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return divmod(value, MICROSECONDS_PER_DAY)
    text = _text(value)
    match = _SQLALCHEMY_INTERVAL.fullmatch(text) if text is not None else None
    if match is None:
        return None
    fields = [int(part) for part in match.groups()[:6]]
    try:
        moment = dt.datetime(*fields, int((match[7] or "0").ljust(6, "0")))
    except ValueError:
        return None
    delta = moment - _EPOCH
    return delta.days, delta.seconds * 1_000_000 + delta.microseconds


def interval_text(value) -> str | None:
    """Canonical interval text: ``'<months> mons <days> days <microseconds> usecs'``."""
    parts = interval_parts(value)
    return None if parts is None else f"0 mons {parts[0]} days {parts[1]} usecs"


def interval_problem(value) -> str | None:
    return None if value is None or interval_parts(value) is not None else "bad-interval"


# --------------------------------------------------------------------------- inet / cidr

def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """IPv6 as Postgres prints it: RFC 5952 compression, except that an IPv4-compatible
    (``::a.b.c.d``) or IPv4-mapped (``::ffff:a.b.c.d``) address ends in a dotted quad."""
    words = [int.from_bytes(address.packed[i:i + 2], "big") for i in range(0, 16, 2)]
    dotted = str(ipaddress.IPv4Address(address.packed[12:]))
    if words[:6] == [0] * 6 and words[6] != 0:
        return f"::{dotted}"
    if words[:5] == [0] * 5 and words[5] == 0xFFFF:
        return f"::ffff:{dotted}"
    return address.compressed


def network_text(value, cidr: int) -> str | None:
    """Canonical ``inet``/``cidr`` text (``address/prefix``, as ``col::text`` prints), or None."""
    text = _text(value)
    if text is None or "%" in text or text != text.strip():
        return None
    try:
        if cidr:
            network = ipaddress.ip_network(text, strict=True)
            address, prefix = network.network_address, network.prefixlen
        else:
            interface = ipaddress.ip_interface(text)
            address, prefix = interface.ip, interface.network.prefixlen
    except ValueError:
        return None
    shown = _ipv6_text(address) if address.version == 6 else str(address)
    return f"{shown}/{prefix}"


def network_problem(value, cidr: int) -> str | None:
    return None if value is None or network_text(value, cidr) else "bad-network"


# --------------------------------------------------------------------------- macaddr

# (group lengths, separators allowed): the forms Postgres' macaddr_in reads; macaddr8_in reads
# these and more (a subset is refused, never misread)
_MAC_GROUPINGS = {6: {(2,) * 6: ":-", (6, 6): ":-", (4, 4, 4): ".-", (12,): ""},
                  8: {(2,) * 8: ":-.", (4,) * 4: ":-.", (16,): "", (2,) * 6: ":-.",
                      (6, 6): ":-.", (4, 4, 4): ":-.", (12,): ""}}


def mac_text(value, size: int) -> str | None:
    """Canonical ``macaddr`` (``size=6``) / ``macaddr8`` (``size=8``) text, or None.

    The forms Postgres documents: six groups of 2 hex digits, two of 6 (``:`` or ``-``),
    three of 4 (``.`` or ``-``) or none; macaddr8 also 8 groups of 2 or 4 of 4. A 6-byte
    address in a macaddr8 column gets ``ff:fe`` in the middle, as Postgres does.
    """
    text = _text(value)
    if text is None:
        return None
    groups = re.split(r"[:.\-]", text)
    separators = set(re.findall(r"[:.\-]", text))
    if len(separators) > 1 or not all(re.fullmatch(r"[0-9a-fA-F]+", g) for g in groups):
        return None
    allowed = _MAC_GROUPINGS[size].get(tuple(len(g) for g in groups))
    if allowed is None or not separators <= set(allowed):
        return None
    digits = "".join(groups).lower()
    if size == 8 and len(digits) == 12:
        digits = digits[:6] + "fffe" + digits[6:]
    return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))


def mac_problem(value, size: int) -> str | None:
    return None if value is None or mac_text(value, size) else "bad-macaddr"


# --------------------------------------------------------------------------- timetz

_TIMETZ = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
                     r"(?: ?(Z|[+-]\d{2}(?::?\d{2})?))?")


def timetz_text(value) -> str | None:
    """Canonical ``timetz`` text, as ``col::text`` prints it (``12:34:56.5+05:30``); a time
    without an offset is UTC (SQLAlchemy's ``Time(timezone=True)`` stores none on SQLite)."""
    text = _text(value)
    match = _TIMETZ.fullmatch(text) if text is not None else None
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction = (match[4] or "").rstrip("0")
    offset = match[5] or "Z"
    sign, digits = ("+", "0000") if offset == "Z" else (offset[0], offset[1:].replace(":", ""))
    off_hours, off_minutes = int(digits[:2]), int(digits[2:4] or 0)
    if off_hours > 15 or off_minutes > 59:
        return None
    if off_hours == off_minutes == 0:
        sign = "+"
    shown = f"{sign}{off_hours:02d}" + (f":{off_minutes:02d}" if off_minutes else "")
    return (f"{hour:02d}:{minute:02d}:{second:02d}" + (f".{fraction}" if fraction else "")
            + shown)


def timetz_problem(value) -> str | None:
    return None if value is None or timetz_text(value) else "bad-datetime"


# --------------------------------------------------------------------------- xml

def xml_ok(value) -> int:
    """1 when the text is well-formed XML content (Postgres' default ``XMLOPTION CONTENT``)."""
    text = _text(value)
    if text is None:
        return 0
    body = re.sub(r"^<\?xml[^>]*\?>", "", text)
    if "<!DOCTYPE" in body:
        try:
            ElementTree.fromstring(body)  # a DOCTYPE needs a document of one element
        except ElementTree.ParseError:
            return 0
        return 1
    try:
        ElementTree.fromstring(f"<content>{body}</content>")
    except ElementTree.ParseError:
        return 0
    return 1


# --------------------------------------------------------------------------- arrays

ARRAY_ELEMENT_TYPES = frozenset({"int2", "int4", "int8", "text", "varchar", "bool", "numeric",
                                 "float4", "float8", "uuid"})
_INT_LIMITS = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_UUID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class _Refused(ValueError):
    pass


def _element_text(item, element: str, max_length: int | None) -> str | None:  # noqa: C901
    """The text Postgres prints for one array element (``e::text``); raises ``_Refused``."""
    if item is None:
        return None
    if element in _INT_LIMITS:
        if isinstance(item, bool) or not isinstance(item, int):
            raise _Refused
        if not -_INT_LIMITS[element] <= item < _INT_LIMITS[element]:
            raise _Refused
        return str(item)
    if element == "bool":
        if not isinstance(item, bool):
            raise _Refused
        return "true" if item else "false"
    if element in ("text", "varchar"):
        if not isinstance(item, str) or "\x00" in item:
            raise _Refused
        if max_length is not None and len(item) > max_length:
            raise _Refused
        return item
    if element == "uuid":
        if not isinstance(item, str) or not _UUID.fullmatch(item):
            raise _Refused
        plain = item.replace("-", "").lower()
        return "-".join(plain[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))
    if isinstance(item, bool) or not isinstance(item, int | Decimal):
        raise _Refused
    if element == "numeric":
        return decimal_text(Decimal(item))
    bits = 32 if element == "float4" else 64
    shown = float_text(float(item), bits)
    if Decimal(shown) != Decimal(item):  # the float column would store another number
        raise _Refused
    return shown


def _comma_items(text: str, element: str) -> list:
    """A comma list's items as the JSON parser would have given them (``--allow-coercion
    comma-list``): spaces around items dropped, an empty text is an empty array."""
    items = [part.strip() for part in text.split(",")] if text.strip() else []
    if element in _INT_LIMITS:
        return [int(part) if re.fullmatch(r"-?\d+", part) else part for part in items]
    if element == "bool":
        words = {"true": True, "false": False}
        return [words.get(part, part) for part in items]
    if element in ("numeric", "float4", "float8"):
        try:
            return [Decimal(part) for part in items]
        except InvalidOperation as exc:
            raise _Refused from exc
    return items


def _quote_element(text: str | None) -> str:
    if text is None:
        return "NULL"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_items(value, element: str, max_length: int | None, comma: int) -> list[str | None]:
    text = _text(value)
    if text is None:
        raise _Refused
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise _Refused from exc
        if not isinstance(items, list):
            raise _Refused
    elif comma and not text.lstrip().startswith("{"):  # an array literal is no comma list
        items = _comma_items(text, element)
    else:
        raise _Refused
    if any(isinstance(item, list | dict) for item in items):
        raise _Refused  # nested arrays and objects: a one-dimensional column cannot hold them
    return [_element_text(item, element, max_length) for item in items]


def array_text(value, element: str, max_length: int | None, comma: int) -> str | None:
    """Canonical array text: ``{"a","b",NULL}``, every element quoted (what the Postgres side
    prints with ``type_table.ArrayValue.pg_sql``), or None."""
    try:
        items = _array_items(value, element, max_length, comma)
    except _Refused:
        return None
    return "{" + ",".join(_quote_element(item) for item in items) + "}"


def array_problem(value, element: str, max_length: int | None, comma: int) -> str | None:
    """``comma-list`` for a comma list while that coercion is off, ``bad-array`` for what no
    option can load, None when the value loads."""
    if value is None or array_text(value, element, max_length, comma) is not None:
        return None
    if not comma and array_text(value, element, max_length, 1) is not None:
        return "comma-list"
    return "bad-array"


FUNCTIONS = [
    ("cutover_interval", 1, interval_text),
    ("cutover_interval_problem", 1, interval_problem),
    ("cutover_network", 2, network_text),
    ("cutover_network_problem", 2, network_problem),
    ("cutover_mac", 2, mac_text),
    ("cutover_mac_problem", 2, mac_problem),
    ("cutover_timetz", 1, timetz_text),
    ("cutover_timetz_problem", 1, timetz_problem),
    ("cutover_xml_ok", 1, xml_ok),
    ("cutover_array", 4, array_text),
    ("cutover_array_problem", 4, array_problem),
]
