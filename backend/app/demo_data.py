"""Demo data: a SQLite database with Alembic's schema and ~100k awkward, realistic rows.

``python -m app.demo_data --out booking.db [--rows 100000] [--seed 7] [--force] [--upload-dir D]``

Reproducible (seeded RNG), bulk-inserted, and built to exercise a migration: unicode (emoji,
CJK, accents), NULLs, long text (>= 10 kB), tabs/newlines/backslashes, blobs with NUL bytes,
JSON documents, numeric rates, a reply chain of 200 messages, rotated refresh-token families.

Known logins: ``demo@example.com`` / ``demo-password`` (admin), ``user1@example.com`` /
``password1``; users 2-4 use ``password2``..``password4``; everyone else ``demo-user-password``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Table, create_engine, text

from app.alembic_upgrade import upgrade_to_head
from app.models import (
    Booking,
    ChatMessage,
    ChatThread,
    MaintenanceState,
    RefreshToken,
    Room,
    ThreadMember,
    Upload,
    User,
)
from app.security import hash_password

DEFAULT_ROWS = 100_000
BATCH = 5_000
REPLY_CHAIN_LENGTH = 200
EPOCH = dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)
SHARED_PASSWORD = "demo-user-password"
INDIVIDUAL_PASSWORDS = 4  # user1..user4 get password1..password4

# the share of the row budget each table gets (the rest of the rows follow from these)
SHARES = {"users": 0.02, "rooms": 0.002, "bookings": 0.35, "chat_threads": 0.01,
          "chat_messages": 0.45, "uploads": 0.05, "refresh_families": 0.03}

NAMES = ["Zoë Ångström", "王小明", "José Núñez", "Renée O'Connor", "Łukasz Żółć", "さくら",
         "Олег Петров", "Ngozi Okafor", "Søren Kierkegård", "李华 🐉", "Chloé \"Coco\" Dubois"]
WORDS = ["Aurora", "Kōan", "Fjord", "Müller", "Señor", "Ωmega", "北京", "Café", "Nova", "Zürich"]
TEXTS = [
    "Café crème at the naïve façade", "日本語のテキストと中文消息と한국어", "Launch 🎉🚀👍🏽",
    "tab\tseparated\tvalues", "line one\nline two\r\nline three", "a back\\slash and \\n literal",
    "quotes ' and \" and `ticks`", "percent % and underscore _ and NULL as text", "   padded   ",
    "Ünïcödé ß ø å ñ ç", "math ∑ ∫ √ ≠ ≤", "mixed: αβγ 123 ½ € ¥",
]
LONG_PARAGRAPH = ("Lorem ipsum — café, 東京, emoji 🎈; tabs\there, backslash \\ and a newline.\n")
FEATURES = ["projector", "whiteboard", "video", "wheelchair access", "café ☕", "音響"]
CONTENT_TYPES = ["application/pdf", "image/png", "text/plain", "application/octet-stream",
                 "image/jpeg", "text/csv"]
FILE_NAMES = ["résumé (final).pdf", "名前.txt", "../../etc/passwd", "report 2024 v2.PNG",
              "emoji 🎉.jpg", "semi;colon,comma.csv", "back\\slash.bin", "quote'single.txt"]


def plan_counts(rows: int) -> dict[str, int]:
    """How many rows each generated group gets for a total of about ``rows``."""
    counts = {name: max(3, int(rows * share)) for name, share in SHARES.items()}
    counts["chat_messages"] = max(counts["chat_messages"], REPLY_CHAIN_LENGTH + 10)
    return counts


def long_text(rng: random.Random, minimum: int = 10_240) -> str:
    """A text of at least ``minimum`` characters (paragraphs with unicode and escapes)."""
    paragraphs = []
    while sum(map(len, paragraphs)) < minimum:
        paragraphs.append(f"{len(paragraphs)}: {LONG_PARAGRAPH}{rng.choice(TEXTS)}\n")
    return "".join(paragraphs)


def some_text(rng: random.Random, *, null_share: float = 0.0, long_share: float = 0.0):
    """NULL, a long text or a short awkward one, in the given proportions."""
    draw = rng.random()
    if draw < null_share:
        return None
    if draw < null_share + long_share:
        return long_text(rng)
    return f"{rng.choice(TEXTS)} #{rng.randrange(10_000)}"


def moment(rng: random.Random, days: int = 365) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=rng.randrange(days * 86_400),
                                microseconds=rng.randrange(1_000_000))


def hex_id(rng: random.Random, bits: int = 128) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def gen_users(rng: random.Random, count: int) -> list[dict]:
    shared = hash_password(SHARED_PASSWORD)
    users = [{"id": 1, "email": "demo@example.com", "name": "Demo Admin 🛠",
              "password_hash": hash_password("demo-password"), "is_admin": True,
              "avatar": None, "created_at": EPOCH}]
    for index in range(1, count):
        password_hash = (hash_password(f"password{index}") if index <= INDIVIDUAL_PASSWORDS
                         else shared)
        avatar = rng.randbytes(rng.randrange(64, 4096)) + b"\x00\xff" if index % 10 == 3 else None
        users.append({"id": index + 1, "email": f"user{index}@example.com",
                      "name": f"{rng.choice(NAMES)} {index}", "password_hash": password_hash,
                      "is_admin": index % 50 == 0, "avatar": avatar,
                      "created_at": moment(rng, 30)})
    return users


def gen_rooms(rng: random.Random, count: int) -> list[dict]:
    rooms = []
    for index in range(1, count + 1):
        features = None if index % 7 == 0 else {
            "equipment": rng.sample(FEATURES, rng.randrange(0, 4)),
            "floor": rng.randrange(-1, 12), "bookable": index % 5 != 0,
            "note": rng.choice(TEXTS), "nested": {"ratio": rng.random(), "tags": ["α", "🎥"]}}
        rooms.append({"id": index, "name": f"{rng.choice(WORDS)} {index}",
                      "capacity": rng.randrange(1, 60),
                      "hourly_rate": Decimal(rng.randrange(0, 50_000)) / 100,
                      "features": features,
                      "description": some_text(rng, null_share=0.3, long_share=0.02)})
    return rooms


def gen_bookings(rng: random.Random, count: int, room_ids: list[int],
                 user_ids: list[int]) -> list[dict]:
    """Bookings with no overlapping active windows per room (each room's windows follow on)."""
    cursor = {room_id: EPOCH + dt.timedelta(minutes=rng.randrange(600)) for room_id in room_ids}
    bookings = []
    for booking_id in range(1, count + 1):
        room_id = room_ids[booking_id % len(room_ids)]
        starts_at = cursor[room_id] + dt.timedelta(minutes=15 * rng.randrange(0, 8))
        ends_at = starts_at + dt.timedelta(minutes=15 * rng.randrange(1, 16))
        cursor[room_id] = ends_at
        created_at = starts_at - dt.timedelta(days=rng.randrange(1, 30))
        bookings.append({
            "id": booking_id, "room_id": room_id, "user_id": rng.choice(user_ids),
            "title": f"{rng.choice(TEXTS)[:60]} #{booking_id}", "starts_at": starts_at,
            "ends_at": ends_at, "status": "cancelled" if booking_id % 10 == 0 else "active",
            "notes": long_text(rng) if booking_id == 1 else some_text(
                rng, null_share=0.4, long_share=0.005),
            "created_at": created_at, "updated_at": created_at + dt.timedelta(hours=1)})
    return bookings


def gen_threads(rng: random.Random, count: int,
                user_ids: list[int]) -> tuple[list[dict], list[dict]]:
    threads, members = [], []
    for thread_id in range(1, count + 1):
        people = rng.sample(user_ids, min(len(user_ids), rng.randrange(2, 6)))
        created_at = moment(rng, 60)
        threads.append({"id": thread_id, "title": f"{rng.choice(WORDS)} chat {thread_id}",
                        "created_by_id": people[0], "created_at": created_at})
        members.extend({"thread_id": thread_id, "user_id": user_id, "joined_at": created_at,
                        "last_read_message_id": None} for user_id in people)
    return threads, members


def gen_messages(rng: random.Random, count: int, members: list[dict]) -> list[dict]:
    """Messages in id order; thread 1 opens with a reply chain of REPLY_CHAIN_LENGTH."""
    people: dict[int, list[int]] = {}
    for member in members:
        people.setdefault(member["thread_id"], []).append(member["user_id"])
    thread_ids = sorted(people)
    recent: dict[int, list[int]] = {}
    messages = []
    clock = EPOCH
    for message_id in range(1, count + 1):
        in_chain = message_id <= REPLY_CHAIN_LENGTH
        thread_id = thread_ids[0] if in_chain else rng.choice(thread_ids)
        history = recent.setdefault(thread_id, [])
        if in_chain:
            reply_to = message_id - 1 or None
        else:
            reply_to = rng.choice(history) if history and rng.random() < 0.3 else None
        clock += dt.timedelta(seconds=rng.randrange(1, 120), microseconds=rng.randrange(10**6))
        messages.append({"id": message_id, "thread_id": thread_id,
                         "sender_id": rng.choice(people[thread_id]), "reply_to_id": reply_to,
                         "body": long_text(rng) if message_id == 1 else some_text(
                             rng, long_share=0.002), "created_at": clock})
        history.append(message_id)
        del history[:-20]
    return messages


UPLOAD_SIZES = (0, 1, 1000, 8192)  # small, so a demo's files can really be written


def upload_content(stored_name: str, size: int) -> bytes:
    """The bytes of a demo upload: derived from its stored name, so rows and files agree."""
    return random.Random(stored_name).randbytes(size)


def gen_uploads(rng: random.Random, count: int, user_ids: list[int]) -> list[dict]:
    """Upload rows whose size and sha256 are those of ``upload_content`` (real, checkable)."""
    uploads = []
    for upload_id in range(1, count + 1):
        stored_name, size = hex_id(rng), rng.choice(UPLOAD_SIZES)
        uploads.append({
            "id": upload_id, "owner_id": rng.choice(user_ids),
            "original_name": rng.choice(FILE_NAMES), "stored_name": stored_name,
            "content_type": rng.choice(CONTENT_TYPES), "size_bytes": size,
            "sha256": hashlib.sha256(upload_content(stored_name, size)).hexdigest(),
            "created_at": moment(rng)})
    return uploads


def write_upload_files(upload_dir: Path, uploads: list[dict]) -> None:
    """The files behind the upload rows, as the API stores them (``UPLOAD_DIR/stored_name``)."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    for upload in uploads:
        (upload_dir / upload["stored_name"]).write_bytes(
            upload_content(upload["stored_name"], upload["size_bytes"]))


def gen_refresh_tokens(rng: random.Random, families: int, user_ids: list[int]) -> list[dict]:
    """Token families of 1-4 rotations: each older token points at its replacement."""
    tokens = []
    for _family in range(families):
        family_id = "-".join(hex_id(rng, bits) for bits in (32, 16, 16, 16, 48))
        user_id, issued_at = rng.choice(user_ids), moment(rng)
        length = rng.randrange(1, 5)
        for position in range(length):
            token_id = len(tokens) + 1
            last = position == length - 1
            tokens.append({
                "id": token_id, "user_id": user_id, "family_id": family_id,
                "token_hash": hashlib.sha256(rng.randbytes(32)).hexdigest(),
                "replaced_by_id": None if last else token_id + 1, "issued_at": issued_at,
                "expires_at": issued_at + dt.timedelta(days=14),
                "revoked_at": None if last else issued_at + dt.timedelta(minutes=15)})
            issued_at += dt.timedelta(minutes=15)
    return tokens


def generate(rows: int, seed: int) -> Iterator[tuple[Table, list[dict]]]:
    """Every table's rows, parents before children."""
    rng = random.Random(seed)
    counts = plan_counts(rows)
    users = gen_users(rng, counts["users"])
    user_ids = [user["id"] for user in users]
    yield User.__table__, users
    rooms = gen_rooms(rng, counts["rooms"])
    yield Room.__table__, rooms
    yield Booking.__table__, gen_bookings(rng, counts["bookings"],
                                          [room["id"] for room in rooms], user_ids)
    threads, members = gen_threads(rng, counts["chat_threads"], user_ids)
    yield ChatThread.__table__, threads
    yield ThreadMember.__table__, members
    yield ChatMessage.__table__, gen_messages(rng, counts["chat_messages"], members)
    yield Upload.__table__, gen_uploads(rng, counts["uploads"], user_ids)
    yield RefreshToken.__table__, gen_refresh_tokens(rng, counts["refresh_families"], user_ids)
    yield MaintenanceState.__table__, [{"id": 1, "enabled": False, "message": None,
                                        "updated_at": EPOCH}]


def _insert(connection: Connection, table: Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), rows[start:start + BATCH])


def _check_foreign_keys(connection: Connection) -> None:
    problems = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if problems:
        raise RuntimeError(f"demo data broke {len(problems)} foreign keys, e.g. {problems[0]}")


def build_demo_database(path: Path, rows: int = DEFAULT_ROWS, seed: int = 7,
                        progress: Callable[[str], None] | None = None,
                        upload_dir: Path | None = None) -> dict[str, int]:
    """Create ``path`` (must not exist) with the schema and ~``rows`` rows; rows per table.

    With ``upload_dir``, the files behind the upload rows are written there too."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    report = progress or (lambda _message: None)
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = create_engine(url)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as connection:
            for table, table_rows in generate(rows, seed):
                _insert(connection, table, table_rows)
                if table is Upload.__table__ and upload_dir is not None:
                    write_upload_files(upload_dir, table_rows)
                counts[table.name] = len(table_rows)
                report(f"  {table.name:<18} {len(table_rows):>9,} rows")
            _check_foreign_keys(connection)
    finally:
        engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: build the demo database, printing progress and the per-table counts."""
    parser = argparse.ArgumentParser(prog="python -m app.demo_data", description=__doc__.split(
        "\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="SQLite file to create")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"about how many rows in total (default {DEFAULT_ROWS:,})")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--upload-dir", type=Path,
                        help="also write the files behind the upload rows here (UPLOAD_DIR)")
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    if args.out.exists():
        if not args.force:
            print(f"refusing to overwrite {args.out} (pass --force to replace it)",
                  file=sys.stderr)
            return 2
        args.out.unlink()
    print(f"building {args.out} with about {args.rows:,} rows (seed {args.seed})")
    started = time.perf_counter()
    counts = build_demo_database(args.out, args.rows, args.seed, progress=print,
                                 upload_dir=args.upload_dir)
    print(f"done: {sum(counts.values()):,} rows in {len(counts)} tables, "
          f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
