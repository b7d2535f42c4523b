"""Printer URIs (DESIGN 3.5) and the python-escpos printer each one opens.

    serial:/dev/kiosk-printer?baudrate=19200   usb:0x04b8:0x0e15   tcp://10.0.0.9:9100
    file:/path/receipt.bin                     dummy:

Parsing is pure and strict: an unknown scheme or parameter is a ``PrinterURIError`` naming the
accepted forms. Every scheme also takes ``profile=`` (a python-escpos printer profile name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from escpos.escpos import Escpos
from escpos.printer import Dummy, File, Network, Serial

from kiosk.errors import DeviceError, UserError

FORMS = ("serial:/dev/kiosk-printer?baudrate=19200", "usb:0x04b8:0x0e15", "tcp://10.0.0.9:9100",
         "file:/path/receipt.bin", "dummy:")

_PARAMS = {
    "serial": {"baudrate", "bytesize", "parity", "stopbits", "timeout", "rtscts", "profile"},
    "usb": {"in_ep", "out_ep", "timeout", "profile"},
    "tcp": {"timeout", "profile"},
    "file": {"profile"},
    "dummy": {"profile"},
}


class PrinterURIError(UserError, ValueError):
    """A printer URI that cannot be understood."""


@dataclass(frozen=True, slots=True)
class PrinterURI:
    scheme: str  # serial | usb | tcp | file | dummy
    path: str = ""  # device or file path (serial, file)
    host: str = ""
    port: int = 9100
    vendor_id: int = 0
    product_id: int = 0
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def profile(self) -> str | None:
        return self.params.get("profile")

    @property
    def can_read(self) -> bool:
        """Whether this transport can carry status replies back."""
        return self.scheme in ("serial", "usb", "tcp")

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> PrinterURIError:
    return PrinterURIError(f"printer URI {text!r}: {why}; use one of: {', '.join(FORMS)}")


def _int(text: str, name: str, value: str, lo: int, hi: int) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise _bad(text, f"{name}={value!r} is not a whole number") from None
    if not lo <= number <= hi:
        raise _bad(text, f"{name}={value} is out of range {lo}..{hi}")
    return number


def _float(text: str, name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _bad(text, f"{name}={value!r} is not a number") from None
    if not 0 < number <= 600:
        raise _bad(text, f"{name}={value} must be between 0 and 600")
    return number


def parse_uri(text: str) -> PrinterURI:
    text = text.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _PARAMS:
        raise _bad(text, "unknown kind of printer" if scheme else "missing the kind of printer")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - _PARAMS[scheme])
    if unknown:
        raise _bad(text, f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(_PARAMS[scheme]))})")
    if scheme == "serial":
        path = parts.netloc + parts.path if parts.netloc else parts.path
        if not path:
            raise _bad(text, "no serial device given")
        uri = PrinterURI("serial", path=path, params=params, text=text)
        _serial_args(uri)  # validate now, not when the first receipt prints
        return uri
    if scheme == "usb":
        ids = (parts.netloc + parts.path).strip("/").split(":")
        if len(ids) != 2 or not all(ids):
            raise _bad(text, "USB printers are given as usb:VENDOR:PRODUCT (hex ids)")
        vid, pid = (_int(text, "id", i if i.lower().startswith("0x") else "0x" + i, 1, 0xFFFF) for i in ids)
        uri = PrinterURI("usb", vendor_id=vid, product_id=pid, params=params, text=text)
        _usb_args(uri)
        return uri
    if scheme == "tcp":
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise _bad(text, "the port is not a number from 1 to 65535") from None
        if not host:
            raise _bad(text, "no host given")
        uri = PrinterURI("tcp", host=host, port=port or 9100, params=params, text=text)
        _tcp_args(uri)
        return uri
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _bad(text, "file: URIs name a local path")
        if not parts.path:
            raise _bad(text, "no file given")
        return PrinterURI("file", path=parts.path, params=params, text=text)
    if parts.path or parts.netloc:
        raise _bad(text, "dummy: takes no path")
    return PrinterURI("dummy", params=params, text=text)


def _serial_args(uri: PrinterURI) -> dict[str, Any]:
    p, t = uri.params, uri.text
    parity = p.get("parity", "N").upper()
    if parity not in ("N", "E", "O"):
        raise _bad(t, f"parity={parity!r} must be N, E or O")
    return {
        "devfile": uri.path,
        "baudrate": _int(t, "baudrate", p.get("baudrate", "9600"), 1200, 921600),
        "bytesize": _int(t, "bytesize", p.get("bytesize", "8"), 7, 8),
        "parity": parity,
        "stopbits": _int(t, "stopbits", p.get("stopbits", "1"), 1, 2),
        "timeout": _float(t, "timeout", p.get("timeout", "1")),
        # python-escpos: dsrdtr=False turns RTS/CTS on
        "dsrdtr": not _int(t, "rtscts", p.get("rtscts", "0"), 0, 1),
    }


def _usb_args(uri: PrinterURI) -> dict[str, Any]:
    p, t = uri.params, uri.text
    return {
        "idVendor": uri.vendor_id,
        "idProduct": uri.product_id,
        "in_ep": _int(t, "in_ep", p.get("in_ep", "0x82"), 0, 0xFF),
        "out_ep": _int(t, "out_ep", p.get("out_ep", "0x01"), 0, 0xFF),
        # milliseconds; the python-escpos default 0 would block forever on a stuck printer
        "timeout": _int(t, "timeout", p.get("timeout", "5000"), 1, 600_000),
    }


def _tcp_args(uri: PrinterURI) -> dict[str, Any]:
    # python-escpos waits 60 s by default; a kiosk cannot hang that long on a dead printer
    return {"host": uri.host, "port": uri.port, "timeout": _float(uri.text, "timeout", uri.params.get("timeout", "5"))}


class SpoolFile(File):
    """``file:`` printer that appends: a restart never truncates receipts already written."""

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        handle: IO[bytes] | None = None
        try:
            handle = open(self.devfile, "ab")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            if raise_not_found:
                raise DeviceError(f"cannot open printer file {self.devfile}: {exc.strerror}") from None
        finally:
            self.device = handle


def open_printer(uri: PrinterURI | str) -> Escpos:
    """A python-escpos printer for ``uri``; the device itself opens on first use."""
    if isinstance(uri, str):
        uri = parse_uri(uri)
    profile = uri.profile
    try:
        if uri.scheme == "serial":
            return Serial(profile=profile, **_serial_args(uri))
        if uri.scheme == "usb":
            from escpos.printer import Usb

            if not Usb.is_usable():
                raise DeviceError(f"printer {uri}: USB printing needs pyusb; install it with 'pip install pyusb'")
            return Usb(profile=profile, **_usb_args(uri))
        if uri.scheme == "tcp":
            return Network(profile=profile, **_tcp_args(uri))
        if uri.scheme == "file":
            folder = Path(uri.path).parent
            if not folder.is_dir():
                raise DeviceError(f"printer {uri}: folder {folder} does not exist")
            return SpoolFile(devfile=uri.path, profile=profile)
        return Dummy(profile=profile)
    except (KeyError, ValueError) as exc:  # python-escpos: unknown profile name
        raise _bad(uri.text, f"profile {profile!r} is not known to python-escpos ({exc})") from None
