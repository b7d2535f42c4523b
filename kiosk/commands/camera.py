"""``kiosk camera test``: open the camera, show its frame rate and what it decodes, live.

Runs the kiosk's own camera scanner (capture thread, decoder, consensus rule) for ``--seconds``
and prints once a second ``fps``, decode time and frames decoded/skipped, and every accepted
scan as it happens (``--json``: one object per line, ``{"event": "status", ...}`` or
``{"event": "scan", ...}``). ``--device`` may be a camera index, a /dev/video path or a video
file (played at its own frame rate, as if live). A camera that cannot be opened is exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import queue
import sys
import time

from kiosk.commands._common import add_config_argument, config_from, print_json
from kiosk.errors import UserError
from kiosk.events import DeviceState, Scanned

OPEN_TIMEOUT_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("camera", help="check the barcode camera")
    actions = parser.add_subparsers(dest="camera_action", metavar="ACTION", required=True)
    test = actions.add_parser("test", help="show frame rate and live decodes")
    test.add_argument("--device", metavar="D", help="camera index, /dev/videoN or a video file (default: config)")
    test.add_argument("--seconds", type=_positive, default=10.0, metavar="S", help="how long to run (default 10)")
    test.add_argument("--json", action="store_true", help="one JSON object per line")
    add_config_argument(test)
    test.set_defaults(func=run_test)


def run_test(args: argparse.Namespace) -> int:
    from kiosk.peripherals.camera import CameraScanner

    config = config_from(args)
    section = config.camera
    if args.device:
        section = dataclasses.replace(section, device=args.device)
    events: queue.Queue[object] = queue.Queue()
    camera = CameraScanner.from_config(section, events.put, barcodes=config.barcodes)
    started = time.monotonic()
    next_status = started + 1.0
    seen_frame = False
    with camera:
        while time.monotonic() - started < args.seconds:
            try:
                event = events.get(timeout=max(0.0, min(0.2, next_status - time.monotonic())))
            except queue.Empty:
                event = None
            if isinstance(event, Scanned):
                _show({"event": "scan", "symbology": event.symbology, "text": event.text,
                       "t": round(time.monotonic() - started, 3)}, args.json)
            elif isinstance(event, DeviceState):
                if event.state == "ok":
                    seen_frame = True
                elif event.reason == "ended":
                    break
                elif not seen_frame and event.reason == "unplugged":
                    raise UserError(f"camera {section.device} cannot be opened; check the cable, that it is "
                                    "listed by `ls /dev/video*`, that this user is in the video group, or pass "
                                    "--device")
                else:
                    print(f"kiosk: camera {section.device}: {event.state} ({event.reason})", file=sys.stderr)
            if time.monotonic() >= next_status:
                next_status += 1.0
                if not seen_frame and time.monotonic() - started > OPEN_TIMEOUT_S:
                    raise UserError(f"camera {section.device} sends no frames; check it is not in use by "
                                    "another program")
                health = camera.health()
                _show({"event": "status", "fps": health["fps"], "decode_ms": health["decode_ms"],
                       "frames": health["frames_decoded"], "skipped": health["frames_skipped"]}, args.json)
    return 0


def _show(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(record)
    elif record["event"] == "scan":
        print(f"scan  {record['symbology']:<10} {record['text']}", flush=True)
    else:
        print(f"{record['fps']:5.1f} fps  decode {record['decode_ms']:5.1f} ms  frames {record['frames']}"
              f"  skipped {record['skipped']}", flush=True)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
