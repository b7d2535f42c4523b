"""Printer URIs (DESIGN 3.5) and the python-escpos printers they open."""

from __future__ import annotations

from pathlib import Path

import pytest
from escpos.printer import Dummy, Network, Serial

from kiosk.errors import DeviceError, UserError
from kiosk.peripherals.printer.uri import PrinterURIError, SpoolFile, open_printer, parse_uri


def test_design_examples_parse() -> None:
    s = parse_uri("serial:/dev/kiosk-printer?baudrate=19200")
    assert (s.scheme, s.path, s.params) == ("serial", "/dev/kiosk-printer", {"baudrate": "19200"})
    u = parse_uri("usb:0x04b8:0x0e15")
    assert (u.scheme, u.vendor_id, u.product_id) == ("usb", 0x04B8, 0x0E15)
    t = parse_uri("tcp://10.0.0.9:9100")
    assert (t.scheme, t.host, t.port) == ("tcp", "10.0.0.9", 9100)
    f = parse_uri("file:/path/receipt.bin")
    assert (f.scheme, f.path) == ("file", "/path/receipt.bin")
    assert parse_uri("dummy:").scheme == "dummy"


def test_variants() -> None:
    assert parse_uri("usb:04b8:0e15").vendor_id == 0x04B8
    assert parse_uri("tcp://printer.local").port == 9100
    assert parse_uri("tcp://[::1]:9101").host == "::1"
    assert parse_uri("file:///tmp/r.bin").path == "/tmp/r.bin"
    assert parse_uri("dummy:?profile=TM-T88III").profile == "TM-T88III"
    assert parse_uri("serial:/dev/ttyUSB0").can_read and not parse_uri("file:/x").can_read


@pytest.mark.parametrize("text", [
    "", "lpt:/dev/lp0", "serial:", "serial:/dev/x?baud=9600", "serial:/dev/x?baudrate=fast",
    "serial:/dev/x?parity=X", "serial:/dev/x?baudrate=10", "usb:04b8", "usb:zz:0e15", "usb:0:1",
    "tcp://", "tcp://host:99999", "file:", "file://otherhost/x", "dummy:/x", "tcp://h?timeout=0",
])
def test_bad_uris_are_user_errors_naming_the_forms(text: str) -> None:
    with pytest.raises(PrinterURIError) as info:
        parse_uri(text)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
    assert "serial:/dev/kiosk-printer" in str(info.value) and "\n" not in str(info.value)


def test_open_printer_classes(tmp_path: Path) -> None:
    s = open_printer("serial:/dev/kiosk-printer?baudrate=19200&parity=E")
    assert isinstance(s, Serial) and (s.baudrate, s.parity, s.devfile) == (19200, "E", "/dev/kiosk-printer")
    n = open_printer("tcp://10.0.0.9:9100")
    assert isinstance(n, Network) and n.timeout == 5  # not python-escpos' 60 s
    assert isinstance(open_printer("dummy:"), Dummy)
    assert isinstance(open_printer(f"file:{tmp_path}/r.bin"), SpoolFile)


def test_unknown_profile_is_a_user_error() -> None:
    with pytest.raises(PrinterURIError, match="profile"):
        open_printer("dummy:?profile=NoSuchPrinter")


def test_file_in_missing_folder_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="does not exist"):
        open_printer(f"file:{tmp_path}/missing/r.bin")


def test_file_printer_appends(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    for chunk in (b"one", b"two"):
        p = open_printer(f"file:{path}")
        p._raw(chunk)
        p.close()
    assert path.read_bytes() == b"onetwo"
