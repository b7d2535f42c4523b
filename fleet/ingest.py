"""Minimal acknowledging fleet ingest: the other half of the kiosk outbox (DESIGN 3.6).

It subscribes to ``kiosk/v1/+/up/#`` with a persistent session, stores sales and events in SQLite
de-duplicated by ``(kiosk_id, msg_id)``, and only *after its own commit* publishes
``{"acked": [...]}`` on that kiosk's ``down/ack``; a repeat is acknowledged again and stored once.
It also keeps each kiosk's last status, birth, health and retained alerts, and owns the retained
``fleet/v1/host/STATE`` (online on connect, offline as its Will and on a clean stop), which kiosks
wait for before draining their outbox.

Run it::

    python -m fleet.ingest --url mqtt://127.0.0.1:1883 --db fleet.db --username fleet \
        --password-file /etc/kiosk-fleet/mqtt.pass        # or FLEET_MQTT_PASSWORD=...

Messages are handled in arrival order by one worker thread in batches (one transaction and one ack
per kiosk per batch), so a backlog of thousands drains in seconds. The fleet service grows from here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.config import MqttSection
from kiosk.errors import UserError
from kiosk.telemetry import payloads, topics
from kiosk.telemetry.client import ClientSettings, Inbound, MqttClient, PublishOutcome, Will
from kiosk.telemetry.payloads import PayloadError

log = logging.getLogger("fleet.ingest")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order
    kiosk_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,                       -- sales | events
    msg_id       TEXT NOT NULL,
    seq          INTEGER,
    is_historical INTEGER NOT NULL DEFAULT 0,
    payload      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    UNIQUE (kiosk_id, msg_id)
);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id   TEXT PRIMARY KEY,
    status     TEXT,
    status_at  TEXT,
    birth      TEXT,
    health     TEXT,
    health_at  TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    kiosk_id   TEXT NOT NULL,
    alert      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kiosk_id, alert)
);
"""

OUTBOX_KINDS = ("sales", "events")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    invalid: int = 0
    acks_sent: int = 0
    acked_ids: int = 0


class IngestStore:
    """The ingest's SQLite file (WAL, synchronous=FULL: an ack is a promise)."""

    def __init__(self, path: str | Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def store(self, batch: Sequence[tuple[str, str, dict[str, Any]]]) -> tuple[dict[str, list[str]], int, int]:
        """Insert ``(kiosk_id, kind, message)`` in order, ignoring repeats, in one transaction.

        Returns the ids to acknowledge per kiosk (new and repeated alike), new and repeated counts.
        """
        acks: dict[str, list[str]] = {}
        new = 0
        at = _now()
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for kiosk_id, kind, msg in batch:
                    cur = self.conn.execute(
                        "INSERT OR IGNORE INTO messages (kiosk_id, kind, msg_id, seq, is_historical, payload,"
                        " received_at) VALUES (?,?,?,?,?,?,?)",
                        (kiosk_id, kind, msg["msg_id"], msg.get("seq"), int(bool(msg.get("is_historical"))),
                         json.dumps(msg, ensure_ascii=False, separators=(",", ":")), at))
                    new += cur.rowcount
                    acks.setdefault(kiosk_id, []).append(msg["msg_id"])
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return acks, new, len(batch) - new

    def note(self, kiosk_id: str, path: tuple[str, ...], payload: bytes) -> None:
        """Remember presence, health and alerts (last value wins)."""
        text = payload.decode("utf-8", errors="replace")
        at = _now()
        with self.lock:
            self.conn.execute("INSERT OR IGNORE INTO kiosks (kiosk_id) VALUES (?)", (kiosk_id,))
            kind = path[0]
            if kind == "status":
                self.conn.execute("UPDATE kiosks SET status = ?, status_at = ? WHERE kiosk_id = ?",
                                  (text, at, kiosk_id))
            elif kind == "birth":
                self.conn.execute("UPDATE kiosks SET birth = ? WHERE kiosk_id = ?", (text, kiosk_id))
            elif kind == "health":
                self.conn.execute("UPDATE kiosks SET health = ?, health_at = ? WHERE kiosk_id = ?",
                                  (text, at, kiosk_id))
            elif kind == "alerts" and len(path) == 2:
                if payload:
                    self.conn.execute("INSERT OR REPLACE INTO alerts VALUES (?,?,?,?)",
                                      (kiosk_id, path[1], text, at))
                else:
                    self.conn.execute("DELETE FROM alerts WHERE kiosk_id = ? AND alert = ?",
                                      (kiosk_id, path[1]))

    def messages(self, kiosk_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Stored messages in arrival order (for tests and the dashboard-to-be)."""
        sql, args = "SELECT payload FROM messages", []
        where = []
        if kiosk_id is not None:
            where.append("kiosk_id = ?")
            args.append(kiosk_id)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class Ingest:
    """Connects, stores, acknowledges. ``start()`` / ``wait_ready(t)`` / ``stop()``."""

    def __init__(self, url: str, db_path: str | Path, *, client_id: str = "fleet",
                 username: str | None = None, password: str | None = None, ca: str = "",
                 cert: str = "", key: str = "", batch_max: int = 500, session_expiry_s: int = 7 * 86400,
                 shared_group: str | None = None) -> None:
        section = MqttSection(url=url, username=username or "", password=password or "", ca=ca, cert=cert,
                              key=key, session_expiry_s=session_expiry_s)
        self.settings = ClientSettings.from_config(section, client_id)
        self.store_db = IngestStore(db_path)
        self.batch_max = batch_max
        self.stats = IngestStats()
        self._host_ts = 0
        self._queue: deque[Inbound] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        sub = topics.ALL_UP if not shared_group else f"$share/{shared_group}/{topics.ALL_UP}"
        self.client = MqttClient(self.settings, subscriptions=[(sub, 1)], will=self._will,
                                 on_connected=self._on_connected, on_disconnected=lambda r: self._ready.clear(),
                                 on_message=self._on_message, name="fleet-ingest")
        self._worker = threading.Thread(target=self._work, name="fleet-ingest-worker", daemon=True)

    def start(self) -> Ingest:
        self._worker.start()
        self.client.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Connected, subscribed and host STATE online published."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
        self._worker.join(5)
        self.client.stop(final=[(topics.HOST_STATE, payloads.host_state(False, self._host_ts), True)])
        self.store_db.close()

    @property
    def last_error(self) -> str | None:
        return self.client.last_error

    # -- MQTT --
    def _will(self) -> Will:
        self._host_ts = int(time.time() * 1000)
        return Will(topics.HOST_STATE, payloads.host_state(False, self._host_ts), qos=1, retain=True)

    def _on_connected(self, info: Any) -> None:
        def done(outcome: PublishOutcome) -> None:  # ready = our online STATE is in the broker
            if outcome.ok:
                self._ready.set()
            else:
                log.error("fleet host STATE not published: %s %s", outcome.status, outcome.reason)

        self.client.publish(topics.HOST_STATE, payloads.host_state(True, self._host_ts), qos=1, retain=True,
                            on_done=done)

    def _on_message(self, message: Inbound) -> None:
        with self._cond:
            self._queue.append(message)
            self._cond.notify()

    # -- the worker --
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._queue:
                    self._cond.wait(0.5)
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.batch_max))]
            if batch:
                try:
                    self._handle(batch)
                except Exception:
                    log.exception("ingest batch failed; the kiosks will resend (nothing was acknowledged)")
                    time.sleep(0.5)

    def _handle(self, batch: list[Inbound]) -> None:
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for message in batch:
            try:
                parsed = topics.parse(message.topic)
            except ValueError:
                continue
            if parsed.direction != "up":
                continue
            if parsed.kind in OUTBOX_KINDS and len(parsed.path) == 1:
                self.stats.received += 1
                try:
                    rows.append((parsed.kiosk_id, parsed.kind, payloads.parse_outbox_message(message.payload)))
                except PayloadError as exc:
                    self.stats.invalid += 1
                    log.warning("invalid %s message from kiosk_id=%s: %s", parsed.kind, parsed.kiosk_id, exc)
            elif parsed.kind in ("status", "birth", "health", "alerts"):
                self.store_db.note(parsed.kiosk_id, parsed.path, message.payload)
        if not rows:
            return
        acks, new, repeated = self.store_db.store(rows)  # committed before any ack leaves
        self.stats.stored += new
        self.stats.duplicates += repeated
        for kiosk_id, ids in acks.items():
            self.client.publish(topics.KioskTopics(kiosk_id).ack, payloads.ack(ids), qos=1)
            self.stats.acks_sent += 1
            self.stats.acked_ids += len(ids)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.ingest",
                                     description="Store kiosk sales/events from MQTT and acknowledge them.")
    parser.add_argument("--url", required=True, help="broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT")
    parser.add_argument("--db", required=True, help="SQLite file for the ingest (created if missing)")
    parser.add_argument("--client-id", default="fleet")
    parser.add_argument("--username", help="default: the client id (when a password is given)")
    parser.add_argument("--password-file", help="file holding the broker password (else $FLEET_MQTT_PASSWORD)")
    parser.add_argument("--ca", default="")
    parser.add_argument("--cert", default="")
    parser.add_argument("--key", default="")
    parser.add_argument("--shared-group", help="use $share/GROUP/... so several ingest workers split the load")
    parser.add_argument("--stats-every", type=float, default=0, help="print stats as JSON every N seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("KIOSK_LOG_LEVEL", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    password = os.environ.get("FLEET_MQTT_PASSWORD", "")
    try:
        if args.password_file:
            password = Path(args.password_file).read_text(encoding="utf-8").strip()
        ingest = Ingest(args.url, args.db, client_id=args.client_id, username=args.username,
                        password=password, ca=args.ca, cert=args.cert, key=args.key,
                        shared_group=args.shared_group)
    except OSError as exc:
        print(f"fleet.ingest: error: cannot read {args.password_file}: {exc.strerror}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"fleet.ingest: error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    ingest.start()
    ready = ingest.wait_ready(10)
    print(json.dumps({"event": "ingest.ready" if ready else "ingest.waiting", "broker": str(ingest.settings.address),
                      "error": ingest.last_error}), flush=True)
    while not done.wait(args.stats_every or 3600):
        if args.stats_every:
            print(json.dumps({"event": "ingest.stats", **asdict(ingest.stats)}), flush=True)
    ingest.stop()
    print(json.dumps({"event": "ingest.stopped", **asdict(ingest.stats)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
