"""``kiosk printer test|status --printer URI``: print a test page, or just ask the status."""

from __future__ import annotations

import argparse

from kiosk.commands._common import add_config_argument, config_from, print_json, print_line
from kiosk.errors import DeviceError, UserError
from kiosk.peripherals.printer import JobLog, PrinterStatus, PrinterUnavailable, ReceiptPrinter


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "printer", help="test the receipt printer and read its status",
        description="Receipt printer checks. URIs (DESIGN 3.5): serial:/dev/kiosk-printer?baudrate=19200, "
                    "usb:0x04b8:0x0e15, tcp://10.0.0.9:9100, file:/path/receipt.bin, dummy:.")
    sub = parser.add_subparsers(dest="printer_command", metavar="ACTION", required=True)
    test = sub.add_parser(
        "test", help="print a test page (width ruler, Chinese, QR, cut) and show the status",
        description="Ask the printer's status (DLE EOT 1..4), print a test page unless the printer "
                    "reports a fault, then show the status again. Exit 0 when printed, 1 when the "
                    "printer reports a fault, 2 when it cannot be opened.")
    status = sub.add_parser(
        "status", help="ask the printer's status (DLE EOT 1..4) without printing",
        description="Show every status bit the printer reports. Exit 1 on a fault (paper out, cover "
                    "open, offline, no answer), 2 when the printer cannot be opened.")
    for p in (test, status):
        p.add_argument("--printer", metavar="URI", help="printer URI (default: printer.uri in the config)")
        add_config_argument(p)
        p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    test.set_defaults(func=run_test)
    status.set_defaults(func=run_status)


def open_cli_printer(args: argparse.Namespace) -> ReceiptPrinter:
    """The printer named on the command line, opened now so a missing device is exit 2."""
    cfg = config_from(args)
    try:
        printer = ReceiptPrinter.from_config(cfg, uri=args.printer, jobs=JobLog())
        printer.link.open()
    except DeviceError as exc:
        raise UserError(f"{exc}; check the cable, the power and the --printer URI") from None
    return printer


def describe(status: PrinterStatus) -> list[str]:
    lines = [f"status: {status.state}" + (f" ({status.reason})" if status.reason else "")]
    if not status.readable:
        lines.append("  this kind of printer cannot report its status (file: and dummy: only write)")
        return lines
    flags = status.to_json()
    for name in ("online", "paper_near_end", "paper_end", "cover_open", "feed_button", "paper_feed_stop",
                 "error", "autocutter_error", "unrecoverable_error", "auto_recoverable_error",
                 "model_specific_error", "drawer_high"):
        value = flags[name]
        lines.append(f"  {name:<24} {'unknown' if value is None else 'yes' if value else 'no'}")
    replies = flags["replies"]
    assert isinstance(replies, dict)
    lines.append("  replies " + " ".join(f"n={n}:{v or 'none'}" for n, v in replies.items()))
    return lines


def run_status(args: argparse.Namespace) -> int:
    with open_cli_printer(args) as printer:
        status = printer.status()
        if args.json:
            print_json({"printer": printer.link.name, "status": status.to_json()})
        else:
            print_line(f"printer {printer.link.name}")
            for line in describe(status):
                print_line(line)
        return 0 if status.can_print else 1


def run_test(args: argparse.Namespace) -> int:
    with open_cli_printer(args) as printer:
        try:
            result = printer.print_test_page()
        except PrinterUnavailable as exc:
            if args.json:
                print_json({"printer": printer.link.name, "printed": False, "error": str(exc),
                            "status": exc.status.to_json()})
            else:
                print_line(f"printer {printer.link.name}: test page NOT printed: {exc}")
                for line in describe(exc.status):
                    print_line(line)
            return 1
        if args.json:
            print_json({"printer": printer.link.name, "printed": True, "bytes": result.bytes_sent,
                        "status": result.status.to_json()})
        else:
            print_line(f"printer {printer.link.name}: test page printed ({result.bytes_sent} bytes)")
            for line in describe(result.status):
                print_line(line)
        return 1 if result.status.state == "fault" else 0
