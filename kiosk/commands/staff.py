"""``kiosk staff hash-pin ID``: the salted hash to put in [[staff.accounts]] pin_hash (PINs are never stored)."""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.errors import UserError
from kiosk.staff import hash_pin


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("staff", help="staff accounts", description="Staff account tools.")
    staff_sub = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    h = staff_sub.add_parser("hash-pin", help="print the pin_hash for a staff id",
                             description="Read a 4-8 digit PIN (prompted, or one line on stdin) and print "
                                         "the pin_hash line for that staff id's [[staff.accounts]] entry.")
    h.add_argument("staff_id")
    h.set_defaults(func=run_hash_pin)


def run_hash_pin(args: argparse.Namespace) -> int:
    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise UserError("a PIN is 4 to 8 digits")
    print(f'pin_hash = "{hash_pin(args.staff_id, pin)}"')
    return 0
