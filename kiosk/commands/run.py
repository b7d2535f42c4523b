"""``kiosk run``: the kiosk UI, full screen on the Pi and a window on a desktop.

With ``--simulate`` every device is simulated on this computer: a text box is the barcode
scanner, a weight entry is the produce scale, the simulated wallet answers payments, the demo
catalog is loaded and receipts go to ``receipts/`` beside the database. With no screen to draw
on (see ``kiosk.ui.display``) it says so in one line and runs the example scenario headless
instead, printing its events and the receipt. Real devices come in later issues.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.commands._common import add_config_argument, print_line
from kiosk.commands.simulate import human
from kiosk.sale import Sale

log = logging.getLogger("kiosk.run")

SIM_DB = Path("var/kiosk-sim.db")
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
    if not args.simulate:
        print("kiosk: error: real-device mode is not wired yet (camera, scales, printer and payment "
              "providers come in later issues); use `kiosk run --simulate`", file=sys.stderr)
        return 2
    if args.headless_demo:
        return headless_demo(args, Path(args.headless_demo))
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
            return run_ui(args)
    print(f"kiosk: no display: running the headless demo instead ({reason})", file=sys.stderr)
    return headless_demo(args, DEMO_SCENARIO)


def run_ui(args: argparse.Namespace) -> int:
    """The window is open: start the lane on its core thread and the Kivy app on this one."""
    from kiosk.catalog import load_demo
    from kiosk.clock import utc_now
    from kiosk.lane import Lane
    from kiosk.payments.simulated import SimulatedWallet
    from kiosk.simulator import open_database, simulator_config
    from kiosk.ui.app import KioskApp
    from kiosk.ui.presenter import Presenter

    config = simulator_config(args.config, None)
    db = Path(args.db) if args.db else SIM_DB
    conn = open_database(str(db))
    devices = SimulatedDevices()
    try:
        load_demo(conn)
        lane = Lane(config, conn, utc_now)
        lane.payments = SimulatedWallet()
        lane.printer = _simulated_printer(config, db.parent / "receipts", lane.post)
        devices.start(config, lane)
        methods = list(config.payments.methods) + ["sim"]
        presenter = Presenter(lane.post, lambda: lane.flow.state, produce=lane.catalog.produce(),
                              methods=methods, simulate=True, place_weight=devices.place_produce)
        app = KioskApp(lane, presenter)
        telemetry = None
        if config.mqtt.enabled:  # fleet reporting when the config turns it on
            from kiosk.control import start_telemetry
            telemetry = start_telemetry(config, lane, db)
        lane.start()
        try:
            app.run()
        finally:
            lane.stop()
            if telemetry is not None:
                telemetry.stop(drain_timeout_s=config.mqtt.drain_timeout_s)
    finally:
        devices.close()
        conn.close()
    return 0


class SimulatedDevices:
    """The devices of ``--simulate`` speaking their real protocols: the produce scale (and the
    bagging scale when security is on) on a pty with pyserial reading it, the lane light, help
    button and buzzer on gpiozero's mock pins."""

    def __init__(self) -> None:
        self.scales: list[Any] = []
        self.gpio: Any = None

    def start(self, config: Any, lane: Any) -> None:
        from gpiozero.pins.mock import MockFactory

        from kiosk.events import ScaleRole
        from kiosk.peripherals.gpio import LaneGpio
        from kiosk.peripherals.scale import open_scale

        self.scales.append(open_scale(config.scale, ScaleRole.PRODUCE, lane.post, simulate=True))
        if config.security.enabled:
            self.scales.append(open_scale(config.bagging_scale, ScaleRole.BAGGING, lane.post, simulate=True))
        self.gpio = LaneGpio.from_config(config.gpio, lane.post, pin_factory=MockFactory())
        lane.light = self.gpio.light.show
        lane.sound = self.gpio.buzzer.play
        log.info("simulated produce scale (%s) on %s", config.scale.protocol, self.scales[0].simulator.path)

    def place_produce(self, grams: int) -> None:
        self.scales[0].simulator.place(grams)

    def close(self) -> None:
        for scale in self.scales:
            scale.close()
        if self.gpio is not None:
            self.gpio.close()


def _simulated_printer(config: Any, out_dir: Path, post: Any) -> Any:
    from kiosk.peripherals.printer import ReceiptPrinter

    try:
        printer = ReceiptPrinter.simulated(config, out_dir, post=post)
    except OSError as exc:
        log.warning("simulated printer unavailable (%s): receipts will not be kept", exc)
        return None
    log.info("simulated receipts go to %s", out_dir)
    return printer


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
