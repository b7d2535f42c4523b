"""``kiosk run``: the kiosk UI, full screen on the Pi and a window on a desktop.

Without ``--simulate`` the devices come from the configuration (``kiosk.devices.KioskDevices``:
camera, HID scanner, scales, printer, GPIO). Until real payment providers exist a lane runs only
with ``[payments] simulated = true``; it says so otherwise. With no screen it exits 1, so systemd
restarts it rather than leaving a kiosk running blind.

With ``--simulate`` every device is simulated on this computer (``SimulatedDevices``): a text box
is the barcode scanner, a weight entry puts weight on a simulated scale read over a pty, the
simulated wallet answers payments, the demo catalog is loaded and receipts go to ``receipts/``
beside the database. With no screen it says so in one line and runs the example scenario headless
instead, printing its events and the receipt.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from kiosk.commands._common import add_config_argument, config_from, print_line
from kiosk.commands.simulate import human
from kiosk.config import Config
from kiosk.errors import UserError
from kiosk.sale import Sale
from kiosk.simulator import simulator_config

log = logging.getLogger("kiosk.run")

SIM_DB = Path("var/kiosk-sim.db")
RESTART_EXIT = 75  # EX_TEMPFAIL: asked to restart; the systemd unit restarts on any non-zero exit
DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "01-plain-basket.yaml"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run the kiosk UI (full screen on the Pi, a window on a desktop)",
                       description="Run the kiosk touch UI. With --simulate, on simulated devices: type or "
                                   "scan barcodes into a text box, enter produce weights, pay with the "
                                   "simulated wallet. Without a display it runs a scenario headless instead.")
    add_config_argument(p)
    p.add_argument("--simulate", action="store_true",
                   help="simulated scanner, scale, wallet and printer, and the demo catalog")
    p.add_argument("--db", metavar="PATH",
                   help=f"SQLite database (with --simulate: ./{SIM_DB} for the UI, in memory for a headless demo)")
    p.add_argument("--headless-demo", metavar="SCENARIO",
                   help="run this scenario headless, printing events and receipts, instead of opening a window")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.headless_demo:
        return headless_demo(args, Path(args.headless_demo))
    config = simulator_config(args.config, None) if args.simulate else config_from(args)
    db = Path(args.db) if args.db else (SIM_DB if args.simulate else config.db_path)
    if not args.simulate:
        preflight(config, db)
    from kiosk.ui.display import detect

    display = detect(os.environ)
    reason = display.detail
    if display.available:
        from kiosk.ui.window import NoWindow, open_window

        try:
            open_window(display)
        except NoWindow as exc:
            reason = str(exc)
        else:
            return run_ui(args, config, db)
    if not args.simulate:
        # A kiosk with no screen is no use to a shopper: exit so systemd restarts us (DESIGN 6).
        print(f"kiosk: error: no display ({reason}); the kiosk UI needs a screen", file=sys.stderr)
        return 1
    print(f"kiosk: no display: running the headless demo instead ({reason})", file=sys.stderr)
    return headless_demo(args, DEMO_SCENARIO)


def preflight(config: Config, db: Path) -> None:
    """What a real lane needs before it opens: a way to take payment and a catalog."""
    from kiosk.catalog import Catalog
    from kiosk.db import connect

    if not config.payments.simulated:
        raise UserError("no payment provider is built yet (Alipay, WeChat Pay, UnionPay and EMVCo come with "
                        "the payments work); set [payments] simulated = true to run a lane with the "
                        "simulated wallet, or use `kiosk run --simulate`")
    conn = connect(db)
    try:
        if Catalog(conn).count() == 0:
            raise UserError(f"the catalog in {db} is empty; import one with `kiosk catalog import FILE.csv --db {db}`")
    finally:
        conn.close()


def run_ui(args: argparse.Namespace, config: Config, db: Path) -> int:
    """The window is open: start the devices, the lane on its core thread and the Kivy app on this one."""
    from kiosk.catalog import load_demo
    from kiosk.clock import utc_now
    from kiosk.devices import Devices, KioskDevices, SimulatedDevices
    from kiosk.lane import Lane
    from kiosk.payments.simulated import SimulatedWallet
    from kiosk.simulator import open_database
    from kiosk.ui.app import KioskApp
    from kiosk.ui.presenter import Presenter

    conn = open_database(str(db))
    devices: Devices | None = None
    try:
        if args.simulate:
            load_demo(conn)
        lane = Lane(config, conn, utc_now, demo_staff=args.simulate)
        lane.payments = SimulatedWallet()  # the only provider until the payments work lands
        place_weight = None
        if args.simulate:
            simulated = SimulatedDevices().start(config, lane, receipts_dir=db.parent / "receipts")
            devices, place_weight = simulated, simulated.place_produce
        else:
            devices = KioskDevices().start(config, lane)
        methods = list(config.payments.methods) + ["sim"]
        presenter = Presenter(lane.post, lambda: lane.flow.state, produce=lane.catalog.produce(),
                              methods=methods, simulate=True, place_weight=place_weight)
        app = KioskApp(lane, presenter)
        telemetry = None
        restart = threading.Event()
        if config.mqtt.enabled:  # fleet reporting when the config turns it on
            from kivy.clock import Clock

            from kiosk.control import start_telemetry

            def on_restart() -> None:  # the fleet's `restart`: leave, and let systemd start us again
                restart.set()
                Clock.schedule_once(lambda dt: app.stop())

            telemetry = start_telemetry(config, lane, db, devices=devices.health,
                                        on_restart=None if args.simulate else on_restart)
        lane.print_in_background()
        lane.start()
        try:
            app.run()
        finally:
            lane.stop()
            if telemetry is not None:
                telemetry.stop(drain_timeout_s=config.mqtt.drain_timeout_s)
    finally:
        if devices is not None:
            devices.close()
        conn.close()
    return RESTART_EXIT if restart.is_set() else 0


class _ReceiptCollector:
    """The headless demo's printer: keeps each printed sale to show its receipt at the end."""

    def __init__(self) -> None:
        self.sales: list[Sale] = []

    def print_receipt(self, sale: Sale, job_id: str) -> None:
        self.sales.append(sale)


def headless_demo(args: argparse.Namespace, path: Path) -> int:
    """Run ``path`` through the Simulator: its events in ``kiosk simulate``'s format, then the receipts."""
    from kiosk.peripherals.printer import ReceiptSettings, layout_sale
    from kiosk.scenario import load_scenario
    from kiosk.simulator import Simulator, open_database, simulator_config

    scenario = load_scenario(path)
    config = simulator_config(args.config, scenario)
    conn = open_database(args.db)
    try:
        sim = Simulator(config, conn, catalog_csv=scenario.catalog, on_event=lambda e: print_line(human(e)))
        printed = _ReceiptCollector()
        sim.lane.printer = printed
        result = sim.run(scenario)
        last = sim.lane.flow.state.last_sale
    finally:
        conn.close()
    settings = ReceiptSettings.from_config(config)
    for sale in printed.sales or ([last] if last is not None else []):
        print_line("")
        print_line(layout_sale(sale, settings).text().rstrip("\n"))
    if result.error is not None:
        print(f"kiosk: scenario {path}: {result.error['message']}", file=sys.stderr)
        return 1
    return 0
