"""What the fleet may ask of a running lane (``KioskControl`` of ``kiosk.telemetry.commands``).

Every method runs on a telemetry thread: anything that touches checkout state is handed to the
core thread with ``Lane.call`` (bounded wait); catalog writes use their own connection in one
transaction, so a refused price list changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import __version__, logs
from kiosk.catalog import Catalog
from kiosk.config import Config
from kiosk.db import connect, transaction
from kiosk.errors import CatalogError
from kiosk.flows.events import RemoteLock
from kiosk.lane import Lane
from kiosk.staff import StaffRoster
from kiosk.telemetry import Telemetry
from kiosk.telemetry.payloads import PriceChange

# Sections the lane can take over while running; anything else needs a restart.
LIVE_SECTIONS = ("timeouts.", "security.", "payments.", "coupons.", "kiosk.language", "staff.")


class LaneControl:
    def __init__(self, lane: Lane, db_path: str | Path, *, on_restart: Callable[[], None] | None = None) -> None:
        self.lane = lane
        self.db_path = Path(db_path)
        self.on_restart = on_restart  # stops the kiosk so its supervisor (systemd) starts it again
        self.restart_requested = threading.Event()

    def lock(self, reason: str, by: str) -> None:
        self.lane.call(lambda: self.lane.handle(RemoteLock(True, by=by, reason=reason)))

    def unlock(self, by: str) -> None:
        self.lane.call(lambda: self.lane.handle(RemoteLock(False, by=by)))

    def restart(self) -> None:
        if self.on_restart is None:
            raise ValueError("this kiosk runs without a supervisor (a simulation) and cannot restart")
        self.restart_requested.set()
        self.on_restart()

    def reload_catalog(self) -> int:
        # Lookups always read the database, so a catalog imported on disk is live; report its size.
        return int(self.lane.call(lambda: self.lane.catalog.count()))

    def set_prices(self, changes: list[PriceChange]) -> int:
        conn = connect(self.db_path)
        try:
            catalog = Catalog(conn)
            with transaction(conn):
                for change in changes:
                    code = change.gtin or change.plu or ""
                    try:
                        catalog.set_price(code, change.price)
                    except CatalogError as exc:
                        raise ValueError(f"{exc}; no price was changed") from None
        finally:
            conn.close()
        return len(changes)

    def snapshot(self) -> dict[str, Any]:
        def take() -> dict[str, Any]:
            s = self.lane.flow.state
            return {"firmware": __version__, "mode": str(s.mode), "sale_id": s.sale_id, "locked": s.locked,
                    "lock_pending": s.lock_pending, "items": s.cart.item_count,
                    "total": str(s.priced_cart.total), "interventions": [i.reason for i in s.interventions],
                    "devices": dict(s.devices), "language": s.language,
                    "sales_stored": self.lane.sales.sale_count()}
        return dict(self.lane.call(take))

    def log_tail(self, n: int) -> list[str]:
        return logs.tail(n)

    def apply_config(self, config: Config, changed: list[str]) -> list[str]:
        live = [key for key in changed if key.startswith(LIVE_SECTIONS)]
        if not live:
            return []
        kiosk = dataclasses.replace(self.lane.config.kiosk, language=config.kiosk.language)
        merged = dataclasses.replace(self.lane.config, timeouts=config.timeouts, security=config.security,
                                     payments=config.payments, coupons=config.coupons, staff=config.staff,
                                     kiosk=kiosk)

        def swap() -> None:
            self.lane.config = merged
            self.lane.flow.config = merged
            if config.staff.accounts:
                self.lane.flow.roster = StaffRoster(tuple(config.staff.accounts))
        self.lane.call(swap)
        return live


def start_telemetry(config: Config, lane: Lane, db_path: str | Path, *, wait_online_s: float = 0.0,
                    devices: Callable[[], dict[str, Any]] | None = None,
                    on_restart: Callable[[], None] | None = None) -> Telemetry:
    """Start fleet reporting for ``lane`` (presence, health, outbox, alerts, commands).

    ``devices`` adds per-device detail (camera fps, frame age ...) to the states the lane knows."""

    def device_health() -> dict[str, Any]:
        out: dict[str, Any] = {name: {"state": state} for name, state in lane.flow.state.devices.items()}
        for name, detail in (devices() if devices is not None else {}).items():
            out[name] = {**out.get(name, {}), **detail}
        return out

    telemetry = Telemetry(config, db_path, LaneControl(lane, db_path, on_restart=on_restart), device_health)
    lane.telemetry = telemetry
    telemetry.start()
    if wait_online_s:
        telemetry.wait_online(wait_online_s)
    return telemetry
