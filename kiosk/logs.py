"""Structured log lines on stderr (journald picks them up), carrying the kiosk id and sale id.

Never log secrets, PINs or whole member phone numbers (DESIGN 2): log ids, not payloads.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque

FORMAT = "%(asctime)s %(levelname)s %(name)s kiosk=%(kiosk_id)s sale=%(sale_id)s %(message)s"


class KioskContext(logging.Filter):
    """Adds ``kiosk_id`` and the current ``sale_id`` to every record (set by the lane)."""

    def __init__(self, kiosk_id: str = "-") -> None:
        super().__init__()
        self.kiosk_id = kiosk_id
        self.sale_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.kiosk_id = self.kiosk_id
        if not getattr(record, "sale_id", None):
            record.sale_id = self.sale_id or "-"
        return True


context = KioskContext()
TAIL = 1000
_tail: deque[str] = deque(maxlen=TAIL)


class _TailHandler(logging.Handler):
    """Keeps the last lines in memory for the fleet's ``log_tail`` command."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _tail.append(self.format(record))
        except Exception:  # a log line must never take the kiosk down
            pass


def tail(n: int) -> list[str]:
    return list(_tail)[-n:] if n > 0 else []


def configure(level: str | None = None) -> None:
    """Install the kiosk's format on the root logger (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "kiosk", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.kiosk = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(context)
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        keeper = _TailHandler(logging.INFO)
        keeper.setFormatter(logging.Formatter(FORMAT))
        keeper.addFilter(context)
        root.addHandler(keeper)
    root.setLevel(level or os.environ.get("KIOSK_LOG_LEVEL", "WARNING"))
