"""Identifiers for sales, payment orders and receipts: unique across restarts and kiosks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime


def id_source(kiosk_id: str, clock: Callable[[], datetime]) -> Callable[[str], str]:
    """``new_id(kind)``: sale and order ids carry the kiosk and time (readable on a receipt);
    receipt tokens are random only, since they grant order look-up and returns."""

    def new_id(kind: str) -> str:
        if kind == "receipt":
            return secrets.token_urlsafe(12)
        stamp = clock().strftime("%Y%m%d%H%M%S")
        prefix = "O" if kind == "order" else ""
        return f"{prefix}{kiosk_id}-{stamp}-{secrets.token_hex(3)}"

    return new_id
