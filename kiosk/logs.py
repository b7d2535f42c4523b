"""Structured log lines on stderr (journald picks them up), carrying the kiosk id and sale id.

Never log secrets, PINs or whole member phone numbers (DESIGN 2): log ids, not payloads.
"""

from __future__ import annotations

import logging
import os
import sys

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
    root.setLevel(level or os.environ.get("KIOSK_LOG_LEVEL", "WARNING"))
