"""Helpers shared by tests."""

from __future__ import annotations

import threading


class EventLog:
    """Stands where the core's queue would: records every posted event and wakes waiters."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, event: object) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()
