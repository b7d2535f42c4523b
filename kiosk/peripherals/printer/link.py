"""The thin transport under a receipt printer: send a job, ask one status question.

python-escpos reads status badly for a kiosk (``Serial`` waits its full timeout for 16 bytes,
``Network`` up to 60 s, ``Dummy`` and ``File`` cannot read). So ``query`` talks to the opened
device itself: flush stale input, send ``DLE EOT n``, wait a short time for one byte. Any failure
is "no answer", and the device is closed so the next call opens it afresh (hot-plug).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from escpos.escpos import Escpos
from escpos.printer import Dummy, Network, Serial

from kiosk.errors import DeviceError
from kiosk.peripherals.printer import status as st

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 30.0


class SendError(DeviceError):
    """A job write failed. ``started``: the write had begun, so part of the job may have left."""

    def __init__(self, message: str, *, started: bool) -> None:
        super().__init__(message)
        self.started = started


def _reads_by_itself(printer: Escpos) -> bool:
    return type(printer)._read is not Escpos._read


class PrinterLink:
    def __init__(self, printer: Escpos, name: str, *, status_timeout_s: float = 0.5) -> None:
        self.printer = printer
        self.name = name
        self.status_timeout_s = status_timeout_s

    @property
    def readable(self) -> bool:
        return isinstance(self.printer, Serial | Network) or _is_usb(self.printer) or _reads_by_itself(self.printer)

    def _device(self) -> Any:
        if isinstance(self.printer, Dummy):
            return None  # keeps bytes in memory; there is nothing to open
        if not self.printer._device:
            self.printer._device = None
            self.printer.open()
            if not self.printer._device:
                raise DeviceError(f"printer {self.name} did not open")
            if isinstance(self.printer, Serial):
                # with RTS/CTS a printer that is out of paper holds the line; never hang on it
                self.printer._device.write_timeout = WRITE_TIMEOUT_S
        return self.printer._device

    def open(self) -> None:
        """Open the device now (it otherwise opens on first use); DeviceError if it cannot."""
        try:
            self._device()
        except Exception as exc:
            self.reset()
            raise DeviceError(f"printer {self.name} cannot be opened: {one_line(exc)}") from exc

    def send(self, data: bytes) -> None:
        """Write a whole job. Raises ``SendError``: ``started`` is False when the device could not
        be opened (no byte can have left), True when the write itself failed (part of the job may
        be in the printer: pyserial, sockets and pyusb do not say how much went before an error)."""
        try:
            self._device()
        except Exception as exc:
            self.reset()
            raise SendError(f"printer {self.name} cannot be opened: {type(exc).__name__}: {one_line(exc)}",
                            started=False) from exc
        try:
            self.printer._raw(data)
            flush = getattr(self.printer._device, "flush", None)
            if callable(flush):
                flush()
        except Exception as exc:
            self.reset()
            raise SendError(f"printer {self.name}: {type(exc).__name__}: {one_line(exc)}",
                            started=True) from exc

    def query(self, n: int) -> bytes | None:
        """The raw reply to DLE EOT ``n``, or None (no answer, cannot read, or link failed)."""
        q = st.query(n)
        try:
            dev = self._device()
            if isinstance(self.printer, Serial):
                return _serial_query(dev, q, self.status_timeout_s)
            if isinstance(self.printer, Network):
                return _socket_query(dev, q, self.status_timeout_s)
            if _is_usb(self.printer):
                return _usb_query(self.printer, dev, q, self.status_timeout_s)
            if _reads_by_itself(self.printer):
                self.printer._raw(q)
                return bytes(self.printer._read() or b"")
            return None
        except Exception as exc:
            log.info("printer %s: no answer to DLE EOT %d: %s", self.name, n, exc)
            self.reset()
            return None

    def reset(self) -> None:
        """Close the device (ignoring errors: it may be unplugged); the next use reopens it."""
        try:
            self.printer.close()
        except Exception as exc:  # an unplugged device fails even to close
            log.debug("printer %s: close failed: %s", self.name, exc)
        self.printer._device = False

    close = reset


def one_line(exc: BaseException) -> str:
    """python-escpos messages span lines; a kiosk message is one."""
    return " ".join(str(exc).split())


def _is_usb(printer: Escpos) -> bool:
    return type(printer).__name__ == "Usb"  # importing escpos.printer.Usb needs pyusb


def _serial_query(dev: Any, q: bytes, timeout: float) -> bytes:
    dev.reset_input_buffer()  # drop stale or unsolicited bytes
    dev.write(q)
    dev.flush()
    saved = dev.timeout
    dev.timeout = timeout
    try:
        return bytes(dev.read(1))
    finally:
        dev.timeout = saved


def _socket_query(sock: socket.socket, q: bytes, timeout: float) -> bytes:
    saved = sock.gettimeout()
    try:
        sock.setblocking(False)
        try:
            while sock.recv(64):  # drop stale bytes
                pass
        except (BlockingIOError, InterruptedError):
            pass
        sock.settimeout(timeout)
        sock.sendall(q)
        try:
            return sock.recv(1)
        except TimeoutError:
            return b""
    finally:
        sock.settimeout(saved)


def _usb_query(printer: Any, dev: Any, q: bytes, timeout: float) -> bytes:
    ms = max(1, int(timeout * 1000))
    dev.write(printer.out_ep, q, ms)
    try:
        return bytes(dev.read(printer.in_ep, 16, ms))
    except Exception as exc:  # usb.core.USBTimeoutError: no answer
        if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower():
            return b""
        raise
