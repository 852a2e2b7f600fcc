"""Python fallbacks behind ``sqlite_to_pg.values``: conversions SQLite's SQL cannot do exactly.

Each function is installed on the SQLite connection (``values.register_functions``) and called
from the SQL that ``values`` generates, so it only runs for the values that need it: floats,
date/time text in shapes other than SQLAlchemy's, JSON validation and jsonb's normal form.
Every text returned is what Postgres itself prints for the value it would store.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import struct
from decimal import Decimal, localcontext
from json.encoder import encode_basestring  # type: ignore[attr-defined]

_DATE = r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
_TIME = r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
_OFFSET = r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)"
# ASCII digits only: Postgres reads no other (a fullwidth '２０２４' is refused by name)
_DATETIME_RE = re.compile(rf"{_DATE}(?:[T ]{_TIME} ?{_OFFSET}?)?", re.ASCII)
_DATE_RE = re.compile(_DATE, re.ASCII)
_TIME_RE = re.compile(_TIME, re.ASCII)
FLOAT_EXPONENT_LIMIT = {64: 15, 32: 6}  # Postgres prints scientific notation from 10^limit


# --------------------------------------------------------------------------- text

def utf8_ok(data: bytes | str | None) -> int:
    """1 when the bytes are valid UTF-8 (Postgres would accept them), else 0."""
    if not isinstance(data, bytes):
        return 1
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return 1


def _as_text(value: bytes | str) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value


# --------------------------------------------------------------------------- numbers

def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _shortest(value: float, bits: int) -> str:
    if bits == 64:
        return repr(value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if _float32(float(text)) == value:
            return text
    return repr(value)


def float_text(value: float | int, bits: int) -> str:
    """The text Postgres prints for a float8 (``bits=64``) or float4 value (shortest exact)."""
    number = float(value)
    if bits == 32:
        number = _float32(number)
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(_shortest(number, bits)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    point = len(digits) + exponent
    if point - 1 < -4 or point - 1 >= FLOAT_EXPONENT_LIMIT[bits]:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    elif point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if sign else "") + text


def float_exact(value: float | int, bits: int) -> int:
    """1 when the float column keeps the value's shortest decimal unchanged, else 0."""
    try:
        stored = Decimal(float_text(value, bits))
    except OverflowError:  # too large for float4
        return 0
    if isinstance(value, int):
        return int(stored == value)
    return int(stored == Decimal(float_text(value, 64)))


def decimal_text(number: Decimal) -> str:
    """A Decimal as Postgres prints a numeric (fixed point, no negative zero)."""
    if number.is_infinite():
        return "Infinity" if number > 0 else "-Infinity"
    return format(number.copy_abs() if number.is_zero() else number, "f")


def numeric_text(value: float | int) -> str:
    """A SQLite REAL/INTEGER as Postgres prints it in an unconstrained numeric column."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return decimal_text(Decimal(repr(value)))


_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _decimal(value, precision: int | None, scale: int | None) -> tuple[str | None, str | None]:
    text = _as_text(value) if isinstance(value, bytes | str) else None
    if text is None or not _DECIMAL_TEXT.fullmatch(text):
        return None, "text-in-number-column"
    with localcontext() as context:
        context.prec = len(text) + (scale or 0) + 10  # room for every digit: never rounds
        number = Decimal(text)
        if precision is not None:
            rounded = number.quantize(Decimal(1).scaleb(-(scale or 0)))
            if rounded != number:
                return None, "numeric-rounded"
            if abs(rounded) >= Decimal(10) ** (precision - (scale or 0)):
                return None, "numeric-overflow"
            number = rounded
        return decimal_text(number), None


def decimal_from_text(value, precision: int | None, scale: int | None) -> str | None:
    """A decimal written as text (Django's ``DecimalField`` stores one when SQLite cannot keep
    it as a REAL exactly) as Postgres prints it in a numeric(precision, scale) column."""
    return _decimal(value, precision, scale)[0]


def decimal_text_problem(value, precision: int | None, scale: int | None) -> str | None:
    """The preflight category of such a text (not a number, would round, too big), or None."""
    return _decimal(value, precision, scale)[1]


# --------------------------------------------------------------------------- date/time

def _clock(moment: dt.datetime | dt.time) -> str:
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{fraction}"


def _format(moment: dt.datetime) -> str:
    """The canonical date/time text, as Postgres prints it (UTC, no offset; the fraction
    without trailing zeros, none for a whole second)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {_clock(moment)}"


def _offset(text: str) -> dt.timezone:
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _parse(value, kind: str, epoch_ok: int) -> tuple[str | None, str | None]:
    """(canonical text, None) or (None, problem category)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not (epoch_ok and kind in ("timestamp", "timestamptz")):
            return None, "epoch-in-datetime"
        try:
            return _format(dt.datetime.fromtimestamp(value, dt.UTC)), None
        except (OverflowError, OSError, ValueError):
            return None, "bad-datetime"
    text = _as_text(value) if isinstance(value, bytes | str) else None
    if text is None:
        return None, "bad-datetime"
    try:
        return _parse_text(text, kind)
    except ValueError:
        return None, "bad-datetime"


def _parse_text(text: str, kind: str) -> tuple[str | None, str | None]:
    if kind == "date":
        match = _DATE_RE.fullmatch(text)
        if not match:
            return None, "bad-datetime"
        day = dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
        return f"{day.year:04d}-{day.month:02d}-{day.day:02d}", None
    if kind == "time":
        match = _TIME_RE.fullmatch(text)
        if not match:
            return None, "bad-datetime"
        clock = dt.time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0),
                        int((match["fraction"] or "0").ljust(6, "0")))
        return _clock(clock), None
    match = _DATETIME_RE.fullmatch(text)
    if not match:
        return None, "bad-datetime"
    moment = dt.datetime(int(match["year"]), int(match["month"]), int(match["day"]),
                         int(match["hour"] or 0), int(match["minute"] or 0),
                         int(match["second"] or 0),
                         int((match["fraction"] or "0").ljust(6, "0")))
    if match["offset"]:
        if kind == "timestamp":
            return None, "datetime-offset"
        moment = moment.replace(tzinfo=_offset(match["offset"])).astimezone(dt.UTC)
    return _format(moment), None


def datetime_text(value, kind: str, epoch_ok: int) -> str | None:
    """The canonical Postgres text of a date/time value of ``kind`` (None when it has none)."""
    return _parse(value, kind, epoch_ok)[0]


def datetime_problem(value, kind: str, epoch_ok: int) -> str | None:
    """The preflight category of a date/time value that cannot be loaded as is (or None)."""
    return _parse(value, kind, epoch_ok)[1]


# --------------------------------------------------------------------------- JSON

def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _strings_ok(node, binary: bool) -> bool:
    if isinstance(node, str):
        if any("\ud800" <= char <= "\udfff" for char in node):
            return False
        return not (binary and "\x00" in node)
    if isinstance(node, dict):
        return all(_strings_ok(key, binary) and _strings_ok(item, binary)
                   for key, item in node.items())
    if isinstance(node, list):
        return all(_strings_ok(item, binary) for item in node)
    return True


class _JsonbNumber(str):
    """A JSON number already printed the way jsonb prints it (numeric's text)."""


def _jsonb_float(text: str) -> _JsonbNumber:
    return _JsonbNumber(decimal_text(Decimal(text)))


def _jsonb_int(text: str) -> _JsonbNumber:
    return _JsonbNumber("0" if text == "-0" else text)  # JSON has no leading zeros to drop


# Numbers stay text: a validity check needs no value, and jsonb prints numeric's digits.
_JSON_CHECKER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_reject_constant)
_JSONB_READER = json.JSONDecoder(parse_float=_jsonb_float, parse_int=_jsonb_int,
                                 parse_constant=_reject_constant)
_JSONB_CONSTANTS = {None: "null", True: "true", False: "false"}


def json_ok(value, binary: int) -> int:
    """1 when Postgres' json (``binary=0``) or jsonb (``binary=1``) would accept the text."""
    text = _as_text(value) if isinstance(value, bytes | str) else None
    if text is None:
        return 0
    try:
        parsed = _JSON_CHECKER.decode(text)
    except ValueError:
        return 0
    # Valid UTF-8 holds no lone surrogate, and a raw NUL is not valid JSON: strings Postgres
    # refuses can only come from \u escapes, so only text with one is walked.
    return 1 if "\\u" not in text else int(_strings_ok(parsed, bool(binary)))


_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def json_escapes_ok(value, binary: int) -> int:
    """``json_ok`` for text SQLite's ``json_valid`` already accepted, without parsing it: every
    backslash of valid JSON starts an escape, so only the ``\\u`` escapes are looked at (a
    surrogate must be half of a pair, and jsonb refuses ``\\u0000``)."""
    text = _as_text(value) if isinstance(value, bytes | str) else None
    if text is None:
        return 0
    low_at = None  # where the low half of a pair must start
    for match in _ESCAPE.finditer(text):
        code = int(match[1], 16) if match[1] else None
        if low_at is not None:
            if match.start() != low_at or code is None or not 0xDC00 <= code <= 0xDFFF:
                return 0
            low_at = None
        elif code is not None and 0xD800 <= code <= 0xDBFF:
            low_at = match.end()
        elif code is not None and (0xDC00 <= code <= 0xDFFF or (binary and code == 0)):
            return 0
    return int(low_at is None)


def _jsonb_key_order(item: tuple[str, object]) -> tuple[int, bytes]:
    key = item[0].encode()
    return len(key), key


def _jsonb_node(node) -> str:
    kind = type(node)
    if kind is dict:
        return "{" + ", ".join(f"{encode_basestring(key)}: {_jsonb_node(item)}"
                               for key, item in sorted(node.items(), key=_jsonb_key_order)) + "}"
    if kind is list:
        return "[" + ", ".join(map(_jsonb_node, node)) + "]"
    if kind is str:
        return encode_basestring(node)  # what json.dumps(ensure_ascii=False) writes for a str
    if kind is _JsonbNumber:
        return node
    return _JSONB_CONSTANTS[node]


def jsonb_text(value) -> str:
    """The text Postgres prints for a jsonb value (sorted keys, its spacing, numeric digits)."""
    if isinstance(value, int | float):
        return numeric_text(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return _jsonb_node(_JSONB_READER.decode(value))


FUNCTIONS = [
    ("cutover_utf8_ok", 1, utf8_ok),
    ("cutover_float", 2, float_text),
    ("cutover_float_exact", 2, float_exact),
    ("cutover_numeric", 1, numeric_text),
    ("cutover_decimal", 3, decimal_from_text),
    ("cutover_decimal_problem", 3, decimal_text_problem),
    ("cutover_datetime", 3, datetime_text),
    ("cutover_datetime_problem", 3, datetime_problem),
    ("cutover_json_ok", 2, json_ok),
    ("cutover_json_escapes_ok", 2, json_escapes_ok),
    ("cutover_jsonb", 1, jsonb_text),
]
