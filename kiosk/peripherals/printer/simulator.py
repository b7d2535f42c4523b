"""Simulated receipt printers that speak the real status bytes.

``SimulatedPrinter`` is an in-process python-escpos printer: it keeps the bytes it is sent
(optionally appending them to a file, like ``file:``) and answers DLE EOT n from its
``condition``. ``PtyPrinter`` plays the same printer on a pseudo-terminal, so the real
``serial:`` path (python-escpos ``Serial`` and pyserial) is exercised end to end; closing it is
an unplug. Both take paper out, near end, cover open, errors, silence and garbage on demand.
"""

from __future__ import annotations

import errno
import os
import pty
import select
import threading
import tty
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos

from kiosk.peripherals.printer import status as st

CUT = b"\x1dV"


class _PrinterModel:
    """What the two simulators share: the condition, the paper roll and the reply logic."""

    def __init__(self, path: str | Path | None, condition: st.PrinterCondition | None) -> None:
        self.condition = condition or st.PrinterCondition()
        self.silent = False  # answers nothing (switched off, cable cut on the receive line)
        self.garbage: bytes | None = None  # answers this instead of a status byte
        self.path = Path(path) if path is not None else None
        self.received = bytearray()  # everything sent except the status queries
        self._lock = threading.Lock()

    def set_condition(self, **changes: Any) -> None:
        """Change the condition, e.g. ``set_condition(paper="near_end")`` or ``set_condition(cover_open=True)``."""
        self.condition = replace(self.condition, **changes)

    def reply(self, n: int) -> bytes:
        if self.silent:
            return b""
        if self.garbage is not None:
            return self.garbage
        return self.condition.reply(n)

    def take(self, data: bytes) -> None:
        with self._lock:
            self.received += data
            if self.path is not None:
                with self.path.open("ab") as fh:
                    fh.write(data)

    @property
    def cuts(self) -> int:
        """How many receipts were finished (each ends with a cut)."""
        return bytes(self.received).count(CUT)


class SimulatedPrinter(_PrinterModel, Escpos):
    """In-process printer for tests and ``--simulate``."""

    def __init__(self, path: str | Path | None = None, condition: st.PrinterCondition | None = None,
                 *, profile: str | None = None) -> None:
        _PrinterModel.__init__(self, path, condition)
        Escpos.__init__(self, profile=profile)
        self.unplugged = False  # every write and read fails, as with a pulled cable
        self._replies: deque[bytes] = deque()
        self._device = True  # nothing to open

    def open(self, raise_not_found: bool = True) -> None:
        self._device = True

    def close(self) -> None:
        self._device = False
        self._replies.clear()

    def _raw(self, msg: bytes) -> None:
        if self.unplugged:
            raise OSError(errno.EIO, "simulated printer unplugged")
        if len(msg) == 3 and msg[:2] == st.DLE_EOT and msg[2] in st.QUERIES:
            self._replies.append(self.reply(msg[2]))
            return
        self.take(msg)

    def _read(self) -> bytes:
        if self.unplugged:
            raise OSError(errno.EIO, "simulated printer unplugged")
        return self._replies.popleft() if self._replies else b""


class PtyPrinter(_PrinterModel):
    """The simulated printer on a pty: use ``serial:{printer.port}``. ``close()`` unplugs it."""

    def __init__(self, path: str | Path | None = None, condition: st.PrinterCondition | None = None) -> None:
        super().__init__(path, condition)
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no echo of our answers back into the "printed" stream
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            pending = self._consume(pending)

    def _consume(self, data: bytes) -> bytes:
        """Answer every DLE EOT n in ``data`` (a real printer does, even inside print data), keep
        the rest as printed; return a tail that may be the start of a query."""
        out = bytearray()
        i = 0
        while i < len(data):
            if data[i:i + 2] == st.DLE_EOT:
                if i + 2 >= len(data):
                    break
                if data[i + 2] in st.QUERIES:
                    answer = self.reply(data[i + 2])
                    if answer:
                        try:
                            os.write(self._master, answer)
                        except OSError:
                            pass
                    i += 3
                    continue
            elif data[i] == st.DLE_EOT[0] and i + 1 == len(data):
                break
            out.append(data[i])
            i += 1
        if out:
            self.take(bytes(out))
        return data[i:]

    def close(self) -> None:
        """Unplug: the kiosk side sees I/O errors from now on."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
