"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from kiosk.config import Config, load_config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="kiosk TOML file (default: $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")


def config_from(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Config:
    return load_config(getattr(args, "config", None), overrides)


def print_json(obj: Any) -> None:
    """One JSON object per line, UTF-8 text kept readable."""
    print_line(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str))


def print_line(text: str) -> None:
    """Print and flush; when the reader has gone (``| head``), stop quietly."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
