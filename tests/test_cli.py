"""The `kiosk` command line: every subcommand is listed and has help; mistakes are one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.cli import command_names

DESIGN_COMMANDS = {"run", "simulate", "decode", "catalog", "scale", "printer", "receipt", "doctor", "db"}


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60)


def test_every_design_command_exists():
    assert DESIGN_COMMANDS <= set(command_names())
    listing = kiosk("--help").stdout
    for name in command_names():
        assert f"    {name} " in listing


@pytest.mark.parametrize("name", command_names())
def test_each_command_has_help(name):
    proc = kiosk(name, "--help")
    assert proc.returncode == 0 and "usage: kiosk" in proc.stdout, proc.stderr


@pytest.mark.parametrize("args", [("nosuch",), ("simulate",), ("catalog", "import"), ("db", "sales", "--limit", "x")])
def test_argument_mistakes_are_exit_2_without_traceback(args):
    proc = kiosk(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "usage:" in proc.stderr


def test_no_command_shows_help():
    proc = kiosk()
    assert proc.returncode == 2 and "COMMAND" in proc.stdout
