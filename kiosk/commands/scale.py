"""``kiosk scale read`` and ``kiosk scale emulate``: talk to a serial scale, or be one.

``read`` prints readings (``--json``: one object per line with ``weight_kg``, ``weight_g``,
``stable``, ``status``); with ``--count N`` it prints only stable readings and stops after N,
failing with exit 1 when they do not come within ``--timeout``. ``emulate`` serves a simulated
scale on a pty, prints the port path, and reads simple commands from stdin until Ctrl-C.
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import time
from decimal import Decimal, InvalidOperation
from types import FrameType

from kiosk.commands._common import print_json
from kiosk.errors import DeviceError, UserError
from kiosk.events import DeviceState, ScaleRole, WeightReading
from kiosk.peripherals.scale import (
    PROTOCOLS,
    Scale,
    ScaleSimulator,
    grams,
    protocol_named,
)

DEFAULT_COUNT_TIMEOUT_S = 10.0

EMULATE_HELP = """commands on stdin, one per line:
  KG            place this load (e.g. 0.512); "remove" takes it off
  motion on|off, noise G, over on|off, zero-error on|off, silent on|off
  unplug, replug"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("scale", help="read a serial scale, or emulate one on a pty")
    actions = parser.add_subparsers(dest="scale_action", metavar="ACTION", required=True)
    names = sorted(PROTOCOLS)

    read = actions.add_parser("read", help="read weights from a serial scale")
    read.add_argument("--port", required=True, metavar="DEV", help="serial port, e.g. /dev/kiosk-scale")
    read.add_argument("--protocol", required=True, choices=names, help="scale protocol")
    read.add_argument("--count", type=_positive_int, metavar="N",
                      help="print N stable readings, then stop")
    read.add_argument("--json", action="store_true", help="one JSON object per reading")
    read.add_argument("--timeout", type=_positive_float, metavar="S",
                      help=f"give up after S seconds (default with --count: {DEFAULT_COUNT_TIMEOUT_S:g})")
    read.add_argument("--capacity-kg", type=Decimal, default=Decimal(15), metavar="KG")
    read.add_argument("--division-g", type=Decimal, default=Decimal(5), metavar="G")
    read.add_argument("--interval", type=_positive_float, default=0.2, metavar="S", help="poll interval")
    read.set_defaults(func=run_read)

    emulate = actions.add_parser("emulate", help="serve a simulated scale on a pty",
                                 epilog=EMULATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    emulate.add_argument("--protocol", required=True, choices=names, help="scale protocol")
    emulate.add_argument("--weight", type=_kilograms, default=0, metavar="KG", help="load on the platter")
    emulate.add_argument("--link", metavar="PATH", help="also make this symlink to the pty")
    emulate.add_argument("--noise", type=int, default=0, metavar="G", help="random noise, grams")
    emulate.add_argument("--motion", action="store_true", help="start in motion")
    emulate.set_defaults(func=run_emulate)


def run_read(args: argparse.Namespace) -> int:
    protocol = protocol_named(args.protocol)
    timeout = args.timeout if args.timeout is not None else (DEFAULT_COUNT_TIMEOUT_S if args.count else None)
    deadline = time.monotonic() + timeout if timeout is not None else None
    events: queue.Queue[object] = queue.Queue()
    printed = 0
    scale = Scale(ScaleRole.PRODUCE, protocol, args.port, events.put, changes_only=False,
                  capacity_g=grams(args.capacity_kg), division_g=args.division_g,
                  poll_interval_s=args.interval, stable_window_s=min(0.3, 2 * args.interval))
    try:
        scale.start(require_port=True)
    except DeviceError as exc:
        raise UserError(f"{exc}; check the cable and --port (e.g. /dev/kiosk-scale)") from None
    with scale:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                event = events.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(event, DeviceState) and event.state != "ok":
                print(f"kiosk: scale on {args.port}: {event.state} ({event.reason})", file=sys.stderr)
            if not isinstance(event, WeightReading) or (args.count and not event.stable):
                continue
            _print_reading(event, args.json)
            printed += 1
            if args.count and printed >= args.count:
                return 0
    if args.count:
        print(f"kiosk: error: got {printed} of {args.count} stable readings from {args.port} in "
              f"{timeout:g} s; keep the platter still, check --protocol, or raise --timeout",
              file=sys.stderr)
        return 1
    return 0


def _print_reading(reading: WeightReading, as_json: bool) -> None:
    weight_kg = None if reading.weight_g is None else reading.weight_g / 1000
    if as_json:
        print_json({"weight_kg": weight_kg, "weight_g": reading.weight_g,
                    "stable": reading.stable, "status": reading.status})
    else:
        shown = "-" if reading.weight_g is None else f"{reading.weight_g / 1000:.3f}"
        print(f"{shown:>9} kg  {'stable' if reading.stable else 'unstable':8}  {reading.status}", flush=True)


def run_emulate(args: argparse.Namespace) -> int:
    try:
        simulator = ScaleSimulator(args.protocol, link=args.link, weight_g=args.weight)
    except FileExistsError as exc:
        raise UserError(str(exc)) from None
    simulator.set_noise(args.noise)
    simulator.set_motion(args.motion)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    try:
        with simulator:
            print(simulator.path, flush=True)
            for line in sys.stdin:
                message = _control(simulator, line.strip())
                if message:
                    print(message, file=sys.stderr, flush=True)
            signal.pause()  # stdin closed: serve until a signal
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _control(sim: ScaleSimulator, line: str) -> str:
    words = line.lower().split()
    if not words:
        return ""
    head, arg = words[0], (words[1] if len(words) > 1 else "on")
    switches = {"motion": sim.set_motion, "over": sim.set_over_capacity,
                "zero-error": sim.set_zero_error, "silent": sim.set_silent}
    if head == "remove":
        sim.remove()
    elif head == "unplug":
        sim.disconnect()
    elif head == "replug":
        sim.reconnect()
    elif head in switches and arg in ("on", "off"):
        switches[head](arg == "on")
    elif head == "noise" and arg.isdigit():
        sim.set_noise(int(arg))
    else:
        try:
            sim.place(_kilograms(head))
        except argparse.ArgumentTypeError:
            return f"unknown command {line!r}\n{EMULATE_HELP}"
    return ""


def _kilograms(text: str) -> int:
    try:
        return grams(Decimal(text))
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a weight in kg, e.g. 0.512") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value
