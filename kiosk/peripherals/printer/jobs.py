"""Which print jobs have gone out, kept durably so a retry never prints a receipt twice.

A job is recorded as ``sending`` before its bytes go to the printer and ``sent`` once the
transport has taken all of them (the printer holds them even if it then goes offline, and prints
them when it can). A job none of whose bytes can have left (the printer could not be opened) is
``failed`` and may be sent again. A job left in ``sending`` (the kiosk lost power mid-write, or the
write failed after it had begun, e.g. a serial write timeout with part of the job already out) is
treated as possibly printed: it is not sent again automatically; the shopper gets the on-screen
receipt and staff can reprint.

Stored in a small SQLite file of its own (WAL, synchronous=FULL), or in memory for one-off use.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

KEEP_JOBS = 10_000


class JobState(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class JobLog:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path) if self.path else ":memory:",
                                     isolation_level=None, check_same_thread=False, timeout=10)
        self._lock = threading.Lock()
        if self.path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS print_jobs (job_id TEXT PRIMARY KEY, sale_id TEXT,"
            " state TEXT NOT NULL, updated_at TEXT NOT NULL)")

    def state(self, job_id: str) -> JobState | None:
        with self._lock:
            row = self._conn.execute("SELECT state FROM print_jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else JobState(row[0])

    def _set(self, job_id: str, sale_id: str | None, state: JobState) -> None:
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._conn.execute(
                "INSERT INTO print_jobs (job_id, sale_id, state, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (job_id, sale_id, str(state), now))

    def sending(self, job_id: str, sale_id: str | None = None) -> None:
        self._set(job_id, sale_id, JobState.SENDING)

    def sent(self, job_id: str, sale_id: str | None = None) -> None:
        self._set(job_id, sale_id, JobState.SENT)
        self._prune()

    def failed(self, job_id: str, sale_id: str | None = None) -> None:
        self._set(job_id, sale_id, JobState.FAILED)

    def _prune(self) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM print_jobs WHERE rowid <= (SELECT max(rowid) FROM print_jobs) - ?", (KEEP_JOBS,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
