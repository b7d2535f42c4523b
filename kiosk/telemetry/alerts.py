"""Retained alerts under ``up/alerts/{alert}``; an empty retained payload clears one (Homie $alert).

The board remembers every alert this process raised or cleared, so an alert that changed while
the broker was unreachable is published on the next connection. On the first connection of a
process the well-known alerts that are not active are cleared too: a ``paper_low`` left retained
by a kiosk that crashed and came back with fresh paper must not stay on the fleet's screen.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.telemetry import payloads
from kiosk.telemetry.topics import KioskTopics, check_name

KNOWN_ALERTS = (
    "paper_low", "paper_out", "printer_fault", "scale_fault", "bagging_scale_fault",
    "intervention_waiting", "camera_lost", "scanner_lost", "outbox_backlog", "outbox_rejected",
    "disk_low",
)

Message = tuple[str, bytes]  # topic, payload (published QoS 1, retained)


class AlertBoard:
    def __init__(self, topics: KioskTopics, now_iso: Callable[[], str]) -> None:
        self.topics = topics
        self.now_iso = now_iso
        self._lock = threading.Lock()
        self._state: dict[str, tuple[dict[str, Any], bytes] | None] = {}

    def set(self, name: str, detail: Mapping[str, Any] | None) -> Message | None:
        """Raise (``detail`` given) or clear (None) an alert; returns what to publish, or None
        when nothing changed. Raises ValueError for a bad name or a detail that is not JSON."""
        check_name("alert", name)
        with self._lock:
            previous = self._state.get(name)
            if detail is None:
                if name in self._state and previous is None:
                    return None
                self._state[name] = None
                return self.topics.alert(name), payloads.CLEAR
            detail = dict(detail)
            json.dumps(detail, allow_nan=False, default=str)  # fail here, in the caller's thread
            if previous is not None and previous[0] == detail:
                return None
            body = payloads.alert(name, detail, kiosk_id=self.topics.kiosk_id, since=self.now_iso())
            self._state[name] = (detail, body)
            return self.topics.alert(name), body

    def active(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: state[0] for name, state in self._state.items() if state is not None}

    def on_connect(self, first: bool) -> list[Message]:
        """Everything to (re)publish on a new connection."""
        with self._lock:
            names = set(self._state) | (set(KNOWN_ALERTS) if first else set())
            out = []
            for name in sorted(names):
                state = self._state.get(name)
                out.append((self.topics.alert(name), payloads.CLEAR if state is None else state[1]))
            return out
