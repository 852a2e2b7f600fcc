"""What travels on the bus between workers: small events carrying ids, never message bodies.

Kinds:
- ``message``: a message was committed (``thread_id``, ``message_id``, ``user_id`` = sender,
  ``client_ref`` echoed to the sender only); each worker loads the row itself.
- ``typing`` / ``read``: ``thread_id``, ``user_id`` (+ ``message_id`` for read).
- ``thread``: a thread was created; ``user_ids`` are its members.
- ``session``: user ``user_id`` opened socket ``conn_id`` at ``opened_at`` (epoch seconds)
  somewhere; that user's sockets opened earlier close.
- ``resync``: local only — the listener reconnected; reload messages after ``message_id``.
- ``gap``: local only — the listener reconnected; events of the gap may be lost.

``origin`` names the worker that published an event, so a worker can tell its own echoes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Kind = Literal["message", "typing", "read", "thread", "session", "resync", "gap"]
CHANNEL = "chat_events"


class BadEvent(ValueError):
    """A bus payload that is not one of ours (ignored and logged by the receiver)."""


@dataclass(frozen=True)
class BusEvent:
    kind: Kind
    thread_id: int | None = None
    user_id: int | None = None
    message_id: int | None = None
    client_ref: str | None = None
    conn_id: str | None = None
    opened_at: float | None = None
    user_ids: tuple[int, ...] = field(default=())
    origin: str | None = None

    def to_payload(self) -> str:
        """Compact JSON without empty fields (NOTIFY payloads must stay under 8000 bytes)."""
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, ())},
                          separators=(",", ":"))

    @classmethod
    def from_payload(cls, payload: str) -> BusEvent:
        try:
            data = json.loads(payload)
            data["user_ids"] = tuple(data.get("user_ids", ()))
            return cls(**data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise BadEvent(f"not a chat event: {payload[:80]!r}") from exc
