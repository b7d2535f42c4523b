"""``kiosk simulate SCENARIO``: a scripted session headless on simulated devices and clock."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.commands._common import add_config_argument, print_json, print_line
from kiosk.config import Config, load_config
from kiosk.errors import DeviceError, ScenarioError, UserError
from kiosk.events import Post
from kiosk.scenario import load_scenario
from kiosk.simulator import Simulator, open_database, simulator_config

if TYPE_CHECKING:  # the printer and MQTT stacks load only when asked for
    from kiosk.peripherals.printer import ReceiptPrinter
    from kiosk.telemetry import Telemetry


MQTT_DB = Path("var/kiosk-simulate.db")  # `--mqtt` without `--db`: kept, so unsent rows are never lost


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="run a scenario headless on simulated devices",
                       description="Run a scripted shopper session (DESIGN 3.2 scenario YAML) on simulated "
                                   "devices and a simulated clock; print its events. Exit 1 if a step fails.")
    p.add_argument("scenario", help="scenario YAML file (see examples/scenarios/)")
    p.add_argument("--catalog", metavar="CSV", help="catalog CSV to load (default: the scenario's, else the demo)")
    p.add_argument("--db", metavar="PATH", help=f"SQLite database to keep sales in (default: in memory; with --mqtt ./{MQTT_DB})")
    add_config_argument(p)
    p.add_argument("--mqtt", metavar="URL", help="publish presence, health and sales to this broker")
    p.add_argument("--printer", metavar="URI", help="print receipts to this printer (DESIGN 3.5)")
    p.add_argument("--json", action="store_true", help="one JSON object per event and line")
    p.set_defaults(func=run)


def human(event: dict[str, Any]) -> str:
    name = event["event"]
    rest = {k: v for k, v in event.items() if k not in ("event", "lines")}
    if name == "sale.completed":
        lines = "\n".join(f"    {ln['qty']} x {ln['name']:<20} {ln['amount']:>8}" for ln in event["lines"])
        pays = ", ".join(f"{p['method']} {p['amount']} {p['status']}" for p in event["payments"])
        return f"sale.completed {event['sale_id']} total {event['total']} {event['currency']}\n{lines}\n    paid: {pays}"
    return f"{name:<22} " + " ".join(f"{k}={v}" for k, v in rest.items())


def receipt_printer(args: argparse.Namespace, config: Config, post: Post) -> ReceiptPrinter:
    """The printer named by --printer; job ids kept beside --db so a re-run never reprints."""
    from kiosk.peripherals.printer import JobLog, ReceiptPrinter

    jobs = JobLog(Path(args.db).with_suffix(".printer-jobs.sqlite")) if args.db else JobLog()
    try:
        return ReceiptPrinter.from_config(config, uri=args.printer, jobs=jobs, post=post)
    except DeviceError as exc:
        raise UserError(str(exc)) from None


def start_telemetry(url: str, config: Config, sim: Simulator, db: str) -> Telemetry:
    """Presence, health and the outbox over MQTT, as a real kiosk would (issue 5)."""
    from kiosk.control import start_telemetry as start

    config = dataclasses.replace(config, mqtt=dataclasses.replace(config.mqtt, enabled=True, url=url))
    return start(config, sim.lane, db, wait_online_s=5.0)


def run(args: argparse.Namespace) -> int:
    out = print_json if args.json else (lambda e: print_line(human(e)))
    load_config(args.config)  # a bad config file is the operator's to fix: exit 2 before anything runs
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        out({"event": "error", "message": str(exc)})
        return 1
    config = simulator_config(args.config, scenario)
    # With --mqtt the outbox must outlive this run (nothing sent to the fleet is lost): a kept database.
    db = args.db or (str(MQTT_DB) if args.mqtt else None)
    conn = open_database(db)
    catalog = Path(args.catalog) if args.catalog else scenario.catalog
    sim = Simulator(config, conn, catalog_csv=catalog, on_event=out)
    if args.printer:
        sim.lane.printer = receipt_printer(args, config, sim.lane.post)
    telemetry = start_telemetry(args.mqtt, config, sim, db) if args.mqtt and db else None
    try:
        result = sim.run(scenario)
    finally:
        if telemetry is not None:
            left = telemetry.stop(drain_timeout_s=config.mqtt.drain_timeout_s)
            out({"event": "telemetry.stopped", "unacknowledged": left,
                 "last_error": telemetry.status().get("last_error")})
            if left:
                print(f"kiosk: {left} message(s) not yet acknowledged by the fleet; they stay in {db} "
                      f"and are sent by the next run with --db {db}", file=sys.stderr)
        conn.close()
    if result.error is not None:
        print(f"kiosk: scenario {args.scenario}: {result.error['message']}", file=sys.stderr)
        return 1
    return 0
