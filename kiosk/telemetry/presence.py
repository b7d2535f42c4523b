"""Presence: the retained ``status`` and ``birth``, with a bdSeq that survives restarts.

As in Sparkplug, bdSeq starts at 0 and goes up by one for every MQTT session the kiosk opens
(wrapping after 255 to 0). Each CONNECT carries its bdSeq as a user property of the Will (MQTT 5),
and the birth published after the CONNACK repeats it, so the fleet can match an ``offline`` to the
session it belongs to. The last used bdSeq and the applied config version are kept in a small JSON
file next to the database (``kiosk.db.telemetry.json``), written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.telemetry import payloads
from kiosk.telemetry.client import Will
from kiosk.telemetry.topics import KioskTopics

log = logging.getLogger("kiosk.telemetry.presence")

BD_SEQ_MODULO = 256


def next_bd_seq(previous: int | None) -> int:
    """0 for the first session ever, then previous + 1, wrapping 255 -> 0."""
    return 0 if previous is None else (previous + 1) % BD_SEQ_MODULO


def state_path_for(db_path: str | Path) -> Path:
    return Path(f"{db_path}.telemetry.json")


@dataclass(frozen=True, slots=True)
class PresenceState:
    bd_seq: int | None = None  # the bdSeq of the last session that reached CONNACK
    config_version: int | None = None  # the last desired config version applied


class PresenceStore:
    """Loads and saves ``PresenceState``; a missing or damaged file means a fresh start."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.state = self._load()

    def _load(self) -> PresenceState:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return PresenceState()
        except (OSError, ValueError) as exc:
            log.warning("telemetry state file %s unreadable (%s); starting bdSeq again", self.path, exc)
            return PresenceState()
        if not isinstance(data, dict):
            log.warning("telemetry state file %s is not a JSON object; starting bdSeq again", self.path)
            return PresenceState()
        bd_seq, version = data.get("bd_seq"), data.get("config_version")
        ok_seq = isinstance(bd_seq, int) and not isinstance(bd_seq, bool) and 0 <= bd_seq < BD_SEQ_MODULO
        ok_ver = isinstance(version, int) and not isinstance(version, bool) and version >= 0
        return PresenceState(bd_seq if ok_seq else None, version if ok_ver else None)

    def update(self, **changes: int | None) -> PresenceState:
        with self._lock:
            current = {"bd_seq": self.state.bd_seq, "config_version": self.state.config_version}
            current.update(changes)
            self.state = PresenceState(**current)
            self._write(current)
            return self.state

    def _write(self, data: dict[str, int | None]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:  # presence must not stop the kiosk; the fleet copes with a repeat
            log.error("cannot save telemetry state to %s: %s", self.path, exc.strerror)


class Presence:
    """Hands out the Will for each connection attempt and commits bdSeq once a session is up."""

    def __init__(self, topics: KioskTopics, store: PresenceStore) -> None:
        self.topics = topics
        self.store = store
        self._lock = threading.Lock()
        self._offered: int | None = None
        self.bd_seq: int | None = store.state.bd_seq  # the current session's, once connected

    def will(self) -> Will:
        """The Will for the next CONNECT: retained ``offline`` tagged with the next bdSeq."""
        with self._lock:
            self._offered = next_bd_seq(self.store.state.bd_seq)
            return Will(self.topics.status, payloads.OFFLINE, qos=1, retain=True,
                        user_properties=(("bdSeq", str(self._offered)),))

    def session_started(self) -> int:
        """The CONNACK arrived: the offered bdSeq is now used; persist it and return it."""
        with self._lock:
            seq = self._offered if self._offered is not None else next_bd_seq(self.store.state.bd_seq)
            self._offered = None
            self.store.update(bd_seq=seq)
            self.bd_seq = seq
            return seq
