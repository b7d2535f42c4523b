"""The outbox: messages for the fleet, stored in the same transaction as the fact they report.

A row stays until the fleet acknowledges its ``msg_id`` on ``down/ack`` (DESIGN 3.6); the fleet
de-duplicates by ``msg_id``, so sending a row twice is harmless and losing one is not.

How a publisher resumes: there is no "in flight" state on disk. A row is either in the table
(not acknowledged: must be delivered) or gone (acknowledged). The publisher keeps its own cursor
in memory, ``pending(after_seq=last_seq_sent)``, and starts again from ``after_seq=0`` whenever it
reconnects or the process starts, so after a crash or restart everything not acknowledged is
pending again (``unsent_after_restart``). ``mark_sent`` only records attempts and the last send
time for diagnostics and ``is_historical``.

Threads: every method holds ``self.lock`` (an ``RLock``) while it uses the connection. A
``SaleStore`` built on the same connection shares that lock, so one connection may be shared by
the core thread and the telemetry thread. The recommended set-up is still one connection per
thread (``kiosk.db.connect`` in each): WAL lets the telemetry thread read while a sale commits,
and writers queue on SQLite's busy timeout instead of on a Python lock.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.clock import utc_now

Clock = Callable[[], datetime]

_TOPIC = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


def to_utc_iso(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds, so stored times sort as text. Naive times are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_utc_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def dump_json(obj: Any) -> str:
    """Compact JSON as stored and sent; readable Chinese. Raises TypeError for non-JSON values."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int  # per-kiosk, increasing, never reused (AUTOINCREMENT): the fleet can spot gaps
    msg_id: str
    topic: str  # suffix under kiosk/v1/{id}/up/
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    sent_at: datetime | None

    @property
    def was_sent(self) -> bool:
        """Sent at least once before but not acknowledged (a replay)."""
        return self.attempts > 0

    def message(self, *, is_historical: bool = False) -> dict[str, Any]:
        """The payload as published: the stored payload plus ``seq`` and ``is_historical``."""
        return {**self.payload, "seq": self.seq, "is_historical": is_historical}


class Outbox:
    """Store-and-forward queue over one SQLite connection (see the module doc for threads)."""

    def __init__(self, conn: sqlite3.Connection, *, clock: Clock = utc_now,
                 lock: threading.RLock | None = None) -> None:
        self.conn = conn
        self.clock = clock
        self.lock = lock if lock is not None else threading.RLock()

    def add(self, conn_in_txn: sqlite3.Connection, topic: str, payload: dict[str, Any],
            *, at: datetime | None = None) -> str:
        """Insert a message inside the caller's open transaction; returns its ``msg_id``.

        The payload's own ``msg_id`` is kept when it has one, else a uuid4 hex is added. The
        caller holds the transaction (and the lock, if it shares this connection).
        """
        if not _TOPIC.match(topic):
            raise ValueError(f"outbox topic {topic!r} must be a suffix such as 'sales' or 'events'")
        if not conn_in_txn.in_transaction:
            raise ValueError("Outbox.add must run inside the transaction that writes the fact it reports")
        msg_id = payload.get("msg_id") or uuid.uuid4().hex
        if not isinstance(msg_id, str):
            raise ValueError(f"msg_id must be text, got {msg_id!r}")
        body = dump_json({**payload, "msg_id": msg_id})
        conn_in_txn.execute(
            "INSERT INTO outbox (msg_id, topic, payload, created_at) VALUES (?, ?, ?, ?)",
            (msg_id, topic, body, to_utc_iso(at if at is not None else self.clock())))
        return msg_id

    def pending(self, limit: int = 100, after_seq: int = 0) -> list[OutboxRow]:
        """Unacknowledged rows with ``seq > after_seq``, oldest first, sent before or not."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT seq, msg_id, topic, payload, created_at, attempts, sent_at FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
        return [_row(r) for r in rows]

    def unsent_after_restart(self, limit: int = 100) -> list[OutboxRow]:
        """What a fresh publisher sends first: every unacknowledged row from the start.

        The same as ``pending(limit, after_seq=0)``; named for the contract it keeps. Rows with
        ``was_sent`` were on the wire when the last process stopped; the fleet drops repeats.
        """
        return self.pending(limit, after_seq=0)

    def mark_sent(self, msg_ids: Iterable[str], at: datetime | None = None) -> int:
        """Record a send attempt (``sent_at``, ``attempts + 1``); returns the rows updated."""
        ids = _ids(msg_ids)
        if not ids:
            return 0
        when = to_utc_iso(at if at is not None else self.clock())
        with self.lock:
            cur = self.conn.execute(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 "
                "WHERE msg_id IN (SELECT value FROM json_each(?))", (when, dump_json(ids)))
        return cur.rowcount

    def ack(self, msg_ids: Iterable[str]) -> int:
        """Delete acknowledged rows in one statement (one transaction); unknown ids are ignored."""
        ids = _ids(msg_ids)
        if not ids:
            return 0
        with self.lock:
            cur = self.conn.execute(
                "DELETE FROM outbox WHERE msg_id IN (SELECT value FROM json_each(?))", (dump_json(ids),))
        return cur.rowcount

    def depth(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def oldest_age_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the oldest unacknowledged row was written; None when empty."""
        with self.lock:
            row = self.conn.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        moment = now if now is not None else self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - from_utc_iso(row[0])).total_seconds())


def _ids(msg_ids: Iterable[str]) -> list[str]:
    if isinstance(msg_ids, str | bytes):
        raise TypeError("pass a list of msg_ids, not a single string")
    ids = list(msg_ids)
    bad = [m for m in ids if not isinstance(m, str)]
    if bad:
        raise TypeError(f"msg_ids must be text, got {bad[0]!r}")
    return ids


def _row(r: sqlite3.Row | tuple[Any, ...]) -> OutboxRow:
    seq, msg_id, topic, payload, created_at, attempts, sent_at = tuple(r)
    return OutboxRow(seq=int(seq), msg_id=msg_id, topic=topic, payload=json.loads(payload),
                     created_at=from_utc_iso(created_at), attempts=int(attempts),
                     sent_at=None if sent_at is None else from_utc_iso(sent_at))
