"""``kiosk doctor``: a table of every configured device's health, with a fix per problem."""

from __future__ import annotations

import argparse

from kiosk.commands._common import add_config_argument, config_from, print_json, print_line
from kiosk.doctor import FAIL, run_checks


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="check devices, database, disk and broker",
                       description="Check every configured device (scales answer and rest at zero, printer "
                                   "status, camera frames, GPIO), the database, the disk and the MQTT broker. "
                                   "Prints OK/WARN/FAIL with a fix for each problem; exit 1 on any FAIL.")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object per check")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    findings = run_checks(config_from(args))
    if args.json:
        for finding in findings:
            print_json(finding.to_json())
    else:
        width = max(len(f.check) for f in findings)
        for f in findings:
            print_line(f"{f.check:<{width}}  {f.result:<4}  {f.detail}")
            if f.fix:
                print_line(f"{'':<{width}}        fix: {f.fix}")
    return 1 if any(f.result == FAIL for f in findings) else 0
