"""The ``kiosk`` command line (DESIGN 3.1).

Each subcommand lives in its own module under ``kiosk/commands/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``. Errors a person
can cause are ``UserError``: one line on stderr, exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

import kiosk.commands
from kiosk import __version__, logs
from kiosk.errors import UserError


def command_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(kiosk.commands.__path__) if not m.name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when ``argv`` names a command only that command's module is imported, so
    `kiosk simulate` does not pay for OpenCV, python-escpos or paho it never uses."""
    parser = argparse.ArgumentParser(
        prog="kiosk", description="Self-checkout kiosk: run the kiosk, simulate shoppers, manage devices and data.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = command_names()
    wanted = [argv[0]] if argv and argv[0] in names else names
    for name in wanted:
        importlib.import_module(f"kiosk.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"kiosk: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, details only when asked for
        if os.environ.get("KIOSK_DEBUG"):
            traceback.print_exc()
        print(f"kiosk: internal error: {type(exc).__name__}: {exc} (set KIOSK_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
