"""A simulated scale that speaks a real protocol on a pseudo-terminal.

The kiosk side opens the pty's slave path (or the ``link`` symlink to it) with pyserial exactly
as it would open ``/dev/kiosk-scale``. The simulator answers requests (request/response
protocols) or streams frames only while the kiosk has the port open (continuous protocols):
pyserial flushes its input when it opens the port, so nothing is written before that (DESIGN 6).

``disconnect()`` closes the pty master, which the kiosk sees exactly like a pulled USB adapter;
``reconnect()`` creates a new pty and points the same symlink at it.
"""

from __future__ import annotations

import errno
import os
import queue
import random
import select
import shutil
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.peripherals.scale.protocol import DeviceSide, ScaleProtocol
from kiosk.peripherals.scale.protocols import protocol_named
from kiosk.peripherals.scale.reading import Indication

POLL_MS = 20


class ScaleModel:
    """The physical scale: what lies on the platter, its zero, its tare, its troubles.

    Weights are grams; the display rounds to the division. Zero is allowed within
    ``zero_range_pct`` of capacity, only when still and in gross mode; tare only when still.
    """

    def __init__(self, *, capacity_g: int = 15_000, division_g: int = 1, zero_range_pct: int = 2,
                 seed: int | None = None) -> None:
        self.capacity_g = capacity_g
        self.division_g = division_g
        self.zero_range_g = capacity_g * zero_range_pct // 100
        self.load_g = 0  # on the platter, as the load cell feels it
        self.zero_g = 0
        self._tare_g = 0
        self.noise_g = 0
        self.motion = False
        self.overloaded = False  # forced over-capacity, as with a load cell fault
        self.zero_error = False
        self._random = random.Random(seed)

    @property
    def tare_g(self) -> int:
        return self._tare_g

    def _round(self, grams: int) -> int:
        d = self.division_g
        return ((2 * grams + d) // (2 * d)) * d if d > 1 else grams

    def _gross(self, noisy: bool) -> int:
        jitter = self._random.randint(-self.noise_g, self.noise_g) if noisy and self.noise_g else 0
        return self.load_g - self.zero_g + jitter

    def indication(self) -> Indication:
        gross = self._gross(noisy=True)
        shown = self._round(gross - self._tare_g)
        return Indication(
            weight_g=shown, net=self._tare_g != 0, motion=self.motion,
            over_capacity=self.overloaded or self._gross(noisy=False) > self.capacity_g,
            under_zero=shown < 0, zero_error=self.zero_error,
            centre_of_zero=not self.motion and self._round(self._gross(noisy=False)) == 0)

    def zero(self) -> str:
        if self.motion:
            return "busy"
        if self._tare_g:
            return "net_mode"
        offset = self.load_g - self.zero_g
        if offset > self.zero_range_g:
            return "above_range"
        if offset < -self.zero_range_g:
            return "below_range"
        self.zero_g = self.load_g
        return "ok"

    def tare(self) -> str:
        if self.motion:
            return "busy"
        gross = self._gross(noisy=False)
        if gross <= 0 or gross > self.capacity_g:
            return "range"
        self._tare_g = self._round(gross)
        return "ok"

    def clear_tare(self) -> str:
        if self.motion:
            return "busy"
        self._tare_g = 0
        return "ok"


class ScaleSimulator:
    """A ``ScaleModel`` served over a pty in one protocol. Context manager; ``close()`` idempotent.

    ``path`` is the port to give the kiosk: ``link`` when given (a symlink kept across
    ``reconnect()``), else the pty's own slave path.
    """

    def __init__(self, protocol: ScaleProtocol | str, *, link: str | os.PathLike[str] | None = None,
                 weight_g: int = 0, capacity_g: int = 15_000, division_g: int = 1,
                 stream_interval_s: float = 0.1, seed: int | None = None) -> None:
        self.protocol = protocol_named(protocol)
        self.model = ScaleModel(capacity_g=capacity_g, division_g=division_g, seed=seed)
        self.model.load_g = weight_g
        self.link = Path(link) if link is not None else None
        self.stream_interval_s = stream_interval_s
        self.requests: list[str] = []  # every request received, for tests
        self.silent = False  # swallow requests / stop streaming, like a powered-off scale
        self._device: DeviceSide = self.protocol.device()
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave_name = ""
        self._ops: queue.Queue[tuple[Callable[[], object], threading.Event]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"scale-sim-{self.protocol.name}",
                                        daemon=True)
        self._closed = False
        self._own_folder: Path | None = None  # removed at close (see in_temporary_folder)
        self._port_open = False  # the kiosk has the slave open
        self._next_stream = 0.0
        self._noise = b""
        if self.link is not None and self.link.exists() and not self.link.is_symlink():
            raise FileExistsError(f"{self.link} exists and is not a symlink; choose another --link")

    @classmethod
    def in_temporary_folder(cls, protocol: ScaleProtocol | str, name: str = "kiosk-scale",
                            **options: Any) -> ScaleSimulator:
        """A simulator whose link ``name`` lives in a private temporary folder, removed at close."""
        folder = Path(tempfile.mkdtemp(prefix="kiosk-sim-"))
        simulator = cls(protocol, link=folder / name, **options)
        simulator._own_folder = folder
        return simulator

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self._slave_name

    @property
    def connected(self) -> bool:
        return self._master is not None

    def start(self) -> ScaleSimulator:
        if self._closed:
            raise RuntimeError("this scale simulator is closed; make a new one")
        if not self._thread.is_alive():
            self._open_pty()
            self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._close_pty()
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)

    def __enter__(self) -> ScaleSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def disconnect(self) -> None:
        """Unplug: close the pty master (the kiosk's reads and writes fail) and drop the link."""
        self._in_thread(self._close_pty)

    def reconnect(self) -> None:
        """Plug back in: a new pty; the ``link`` symlink, if any, points at it."""
        self._in_thread(self._replug)

    # -- the scale's state -------------------------------------------------------------------

    def place(self, weight_g: int) -> None:
        """Put a load on the platter (replaces what was there)."""
        with self._lock:
            self.model.load_g = weight_g

    def remove(self) -> None:
        """Take everything off the platter."""
        self.place(0)

    def set_noise(self, grams: int) -> None:
        with self._lock:
            self.model.noise_g = abs(grams)

    def set_motion(self, moving: bool = True) -> None:
        with self._lock:
            self.model.motion = moving

    def set_over_capacity(self, over: bool = True) -> None:
        with self._lock:
            self.model.overloaded = over

    def set_zero_error(self, error: bool = True) -> None:
        with self._lock:
            self.model.zero_error = error

    def set_silent(self, silent: bool = True) -> None:
        self.silent = silent

    def inject(self, data: bytes) -> None:
        """Line noise: send ``data`` (garbage, a cut frame) just before the next reply or
        streamed frame, where the kiosk's parser has to skip it."""
        with self._lock:
            self._noise += data

    # -- inside ----------------------------------------------------------------------------

    def _in_thread(self, op: Callable[[], object]) -> None:
        done = threading.Event()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._ops.put((op, done))
            if not done.wait(timeout=2):
                raise TimeoutError("scale simulator did not respond")
        else:
            op()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or CR translation even before pyserial opens it
        self._slave_name = os.ttyname(slave)
        os.close(slave)  # the kiosk opens it by path; with no opener, the master polls POLLHUP
        os.set_blocking(master, False)
        self._device = self.protocol.device()
        self._master = master
        self._port_open = False
        self._fresh_line_settings()
        if self.link is not None:
            temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            temporary.unlink(missing_ok=True)
            os.symlink(self._slave_name, temporary)
            os.replace(temporary, self.link)

    def _replug(self) -> None:
        self._close_pty()
        self._open_pty()

    def _close_pty(self) -> None:
        if self.link is not None and self.link.is_symlink() and os.readlink(self.link) == self._slave_name:
            self.link.unlink(missing_ok=True)  # udev removes the name when the device goes
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def _fresh_line_settings(self) -> None:
        """Put the slave's line settings back to a new pty's (through the master, which on Linux
        reaches the slave's termios). A pty forces 8 bits without parity, and recent kernels
        answer EINVAL when the only change asked for is one it cannot make: pyserial reopening a
        closed pty as 7E1 (the 8217 framing) would fail. A real USB adapter does 7E1 properly."""
        if self._master is None:
            return
        try:
            attrs = termios.tcgetattr(self._master)
            attrs[2] = termios.CS8 | termios.CREAD | termios.B38400
            attrs[4] = attrs[5] = termios.B38400
            termios.tcsetattr(self._master, termios.TCSANOW, attrs)
        except termios.error:
            pass

    def _write(self, data: bytes) -> None:
        if self._master is None or not data:
            return
        with self._lock:
            data, self._noise = self._noise + data, b""
        try:
            os.write(self._master, data)
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EAGAIN):
                raise

    def _serve(self) -> None:
        while not self._stop.is_set():
            while True:
                try:
                    op, done = self._ops.get_nowait()
                except queue.Empty:
                    break
                try:
                    op()
                finally:
                    done.set()
            master = self._master
            if master is None:
                self._stop.wait(POLL_MS / 1000)
                continue
            poller = select.poll()
            poller.register(master, select.POLLIN)
            events = poller.poll(POLL_MS)
            revents = events[0][1] if events else 0
            if revents & select.POLLIN:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the kiosk closed the port
                    data = b""
                for request in self._device.feed(data):
                    self.requests.append(request)
                    if not self.silent:
                        with self._lock:
                            reply = self._device.respond(request, self.model)
                        self._write(reply)
            port_open = not revents & select.POLLHUP
            if self._port_open and not port_open:
                self._fresh_line_settings()
            self._port_open = port_open
            if self.protocol.continuous and port_open and not self.silent:
                now = time.monotonic()
                if now >= self._next_stream:
                    self._next_stream = now + self.stream_interval_s
                    with self._lock:
                        frame = self._device.stream(self.model.indication())
                    self._write(frame)
            elif revents & select.POLLHUP:
                self._stop.wait(POLL_MS / 1000)  # nobody has the port open: don't spin
