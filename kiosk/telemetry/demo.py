"""A kiosk without a UI, for demos and tests: ``python -m kiosk.telemetry``.

It opens the database, starts ``Telemetry`` with an in-memory ``DemoControl``, optionally commits
demo sales through the real ``SaleStore`` (sale and outbox row in one transaction), and stops
cleanly on SIGTERM/SIGINT (waits for the fleet's acks, publishes ``offline``). One JSON object per
line on stdout says what happened::

    python -m kiosk.telemetry --url mqtt://127.0.0.1:1883 --kiosk-id kiosk-0001 --db /tmp/k.db \
        --sales 10 --run-for 30          # password from $KIOSK_MQTT_PASSWORD
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from kiosk.catalog import Item, Unit
from kiosk.clock import utc_now
from kiosk.config import Config, load_config
from kiosk.db import connect
from kiosk.errors import UserError
from kiosk.money import Money
from kiosk.sale import Cart, Payment, Sale
from kiosk.store import SaleStore
from kiosk.telemetry.payloads import PriceChange
from kiosk.telemetry.publisher import PublisherOptions
from kiosk.telemetry.telemetry import Telemetry, TelemetryOptions

DEMO_ITEM = Item("06901234567892", None, "可口可乐 330ml", "Coca-Cola 330ml", Money(350), Unit.EACH)
LIVE_SECTIONS = ("security", "timeouts")  # what DemoControl pretends it can change without a restart


def demo_sale(kiosk_id: str, number: int, when: datetime | None = None, *, tag: str = "") -> Sale:
    """A small paid sale with a unique id (``number`` 1, 2, ...)."""
    when = when or utc_now()
    cart, _ = Cart().add_item(DEMO_ITEM, 1 + number % 3)
    sale_id = f"{kiosk_id}-{tag}{number:06d}"
    return Sale(sale_id=sale_id, kiosk_id=kiosk_id, store="Demo Store 演示店", lane=1,
                started_at=when - timedelta(minutes=2), completed_at=when, lines=cart.lines,
                payments=(Payment("alipay", cart.total, "paid", f"ali-{sale_id}"),),
                receipt_token=f"R-{sale_id}")


class DemoControl:
    """``KioskControl`` that keeps its state in memory and records every call."""

    def __init__(self) -> None:
        self.locked = False
        self.locked_by: str | None = None
        self.lock_reason: str | None = None
        self.prices: dict[str, Money] = {"06901234567892": Money(350), "4011": Money(598)}
        self.calls: list[tuple[str, Any]] = []
        self.restart_requested = threading.Event()
        self.logs: deque[str] = deque(maxlen=1000)
        self.config_applied: list[str] = []

    def _log(self, text: str) -> None:
        self.logs.append(f"{utc_now().isoformat()} {text}")

    def lock(self, reason: str, by: str) -> None:
        self.calls.append(("lock", (reason, by)))
        self.locked, self.locked_by, self.lock_reason = True, by, reason
        self._log(f"lane locked by {by}: {reason}")

    def unlock(self, by: str) -> None:
        self.calls.append(("unlock", by))
        self.locked, self.locked_by, self.lock_reason = False, None, None
        self._log(f"lane unlocked by {by}")

    def restart(self) -> None:
        self.calls.append(("restart", None))
        self.restart_requested.set()

    def reload_catalog(self) -> int:
        self.calls.append(("reload_catalog", None))
        return len(self.prices)

    def set_prices(self, changes: list[PriceChange]) -> int:
        self.calls.append(("set_prices", changes))
        keys = [c.gtin or c.plu or "" for c in changes]
        unknown = [k for k in keys if k not in self.prices]
        if unknown:
            raise ValueError(f"unknown item {unknown[0]}; no price changed")
        for key, change in zip(keys, changes, strict=True):
            self.prices[key] = change.price
        return len(changes)

    def snapshot(self) -> dict[str, Any]:
        return {"locked": self.locked, "locked_by": self.locked_by, "items": len(self.prices)}

    def log_tail(self, n: int) -> list[str]:
        return list(self.logs)[-n:]

    def apply_config(self, config: Config, changed: list[str]) -> list[str]:
        self.calls.append(("apply_config", changed))
        applied = [k for k in changed if k.split(".")[0] in LIVE_SECTIONS]
        self.config_applied += applied
        return applied


def _emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk.telemetry", description=__doc__.split("\n")[0])
    p.add_argument("--config", help="kiosk TOML file")
    p.add_argument("--db", required=True, help="kiosk SQLite database")
    p.add_argument("--url", help="override mqtt.url")
    p.add_argument("--kiosk-id", help="override kiosk.id")
    p.add_argument("--ca", help="override mqtt.ca")
    p.add_argument("--cert", help="override mqtt.cert")
    p.add_argument("--key", help="override mqtt.key")
    p.add_argument("--sales", type=int, default=0, help="commit this many demo sales")
    p.add_argument("--sale-interval", type=float, default=0.0, help="seconds between demo sales")
    p.add_argument("--run-for", type=float, default=0.0, help="stop after this many seconds (0: on a signal)")
    p.add_argument("--drain-timeout", type=float, default=10.0, help="seconds to wait for acks when stopping")
    p.add_argument("--health-interval", type=float, help="override mqtt.health_interval_s")
    p.add_argument("--ack-timeout", type=float, default=30.0, help="resend unacknowledged rows after this")
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("KIOSK_LOG_LEVEL", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    mqtt: dict[str, Any] = {"enabled": True}
    for key in ("url", "ca", "cert", "key"):
        if getattr(args, key):
            mqtt[key] = getattr(args, key)
    if os.environ.get("KIOSK_MQTT_PASSWORD"):
        mqtt["password"] = os.environ["KIOSK_MQTT_PASSWORD"]
    if args.health_interval:
        mqtt["health_interval_s"] = args.health_interval
    overrides: dict[str, Any] = {"mqtt": mqtt}
    if args.kiosk_id:
        overrides["kiosk"] = {"id": args.kiosk_id}
    try:
        config = load_config(args.config, overrides)
        control = DemoControl()
        telemetry = Telemetry(config, args.db, control, lambda: {"printer": {"state": "ok"}},
                              options=TelemetryOptions(publisher=PublisherOptions(ack_timeout_s=args.ack_timeout),
                                                       reconnect_max_s=5.0))
    except UserError as exc:
        print(f"kiosk.telemetry: error: {exc}", file=sys.stderr)
        return exc.exit_code
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    telemetry.start()
    if telemetry.wait_online(10):
        _emit(event="telemetry.online", bd_seq=telemetry.presence.bd_seq, protocol=telemetry.status()["protocol"])
    else:
        _emit(event="telemetry.offline", error=telemetry.status()["last_error"])
    conn = connect(args.db)
    store = SaleStore(conn, kiosk_id=config.kiosk.id)
    started = time.monotonic()
    tag = f"{int(time.time())}-"
    for n in range(1, args.sales + 1):
        if done.is_set():
            break
        sale = demo_sale(config.kiosk.id, n, tag=tag)
        store.commit_sale(sale)
        telemetry.notify_outbox()
        _emit(event="sale.committed", sale_id=sale.sale_id)
        if args.sale_interval:
            done.wait(args.sale_interval)
    _emit(event="sales.done", count=args.sales)
    while not done.is_set() and not control.restart_requested.is_set():
        if args.run_for and time.monotonic() - started >= args.run_for:
            break
        done.wait(0.1)
    left = telemetry.stop(args.drain_timeout)
    conn.close()
    _emit(event="telemetry.stopped", unacknowledged=left)
    return 0
