"""The serial side of a scale: one thread that owns the port, whatever the protocol.

The thread opens the port with the protocol's own settings, flushes stale bytes, then either
polls (request/response protocols: flush, write the request, read until one frame or the reply
time-out) or reads a continuous stream. Frames go to a ``LinkListener``. When the port fails
(unplugged, vanished, I/O error) it tells the listener and reopens by the same path with
exponential backoff, so a stable udev name like ``/dev/kiosk-scale`` keeps working after replug.
"""

from __future__ import annotations

import logging
import os
import queue
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import serial

from kiosk.errors import DeviceError
from kiosk.peripherals.scale.protocol import FrameParser, ScaleProtocol
from kiosk.peripherals.scale.reading import Command, Frame, FrameKind

log = logging.getLogger(__name__)

READ_SLICE_S = 0.05  # read time-out: bounds how long close() waits for the thread
STALE_BYTES = 256  # a continuous stream this far behind is flushed rather than parsed

SerialFactory = Callable[..., Any]


class LinkListener(Protocol):
    """Called from the link's thread."""

    def frame_received(self, frame: Frame) -> None: ...

    def command_done(self, command: Command, accepted: bool) -> None:
        """Called before the reply frame itself is passed on."""

    def no_answer(self) -> None: ...

    def connection_lost(self, reason: str) -> None: ...


def open_port(port: str, protocol: ScaleProtocol, serial_factory: SerialFactory | None = None,
              timeout: float = READ_SLICE_S) -> Any:
    """Open ``port`` with the protocol's settings; raise ``DeviceError`` naming port and cause."""
    s = protocol.settings
    factory = serial_factory or serial.Serial
    try:
        return factory(port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
                       stopbits=s.stopbits, timeout=timeout, write_timeout=1.0, exclusive=True)
    except (serial.SerialException, OSError, ValueError, termios.error) as exc:
        raise DeviceError(f"cannot open scale port {port} ({protocol.name}, {s}): {_cause(exc)}") from None


def probe_port(port: str, protocol: ScaleProtocol, serial_factory: SerialFactory | None = None) -> None:
    """Open and close the port once, so a bad path is reported at once."""
    open_port(port, protocol, serial_factory).close()


def _cause(exc: BaseException) -> str:
    errno = getattr(exc, "errno", None)
    if isinstance(exc, termios.error) and exc.args and isinstance(exc.args[0], int):
        errno = exc.args[0]  # e.g. EINVAL: the device refuses these line settings
    if isinstance(errno, int) and errno:
        return os.strerror(errno)
    return str(exc) or type(exc).__name__


class PortVanished(serial.SerialException):
    pass


class ScaleLink:
    """One port, one protocol, one thread. ``close()`` is idempotent; also a context manager."""

    def __init__(self, port: str, protocol: ScaleProtocol, listener: LinkListener, *,
                 poll_interval_s: float = 0.2, reply_timeout_s: float | None = None,
                 command_timeout_s: float | None = None, backoff_initial_s: float = 0.5,
                 backoff_max_s: float = 10.0, serial_factory: SerialFactory | None = None,
                 name: str = "scale") -> None:
        self.port = port
        self.protocol = protocol
        self.poll_interval_s = poll_interval_s
        self.reply_timeout_s = reply_timeout_s if reply_timeout_s is not None else protocol.reply_timeout_s
        self.command_timeout_s = (command_timeout_s if command_timeout_s is not None
                                  else max(protocol.command_timeout_s, self.reply_timeout_s))
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._listener = listener
        self._serial_factory = serial_factory
        self._commands: queue.Queue[tuple[Command, Future[bool]]] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-link", daemon=True)
        self._started = False
        self._opened: Any = None  # a port opened by start(require_port=True)
        self.connected = False

    # -- public --------------------------------------------------------------------------------

    def start(self, require_port: bool = False) -> ScaleLink:
        """Start the thread. With ``require_port`` the port is opened first, in the caller's
        thread, and a ``DeviceError`` is raised at once when it cannot be (for the CLI)."""
        if self._stop.is_set():
            raise DeviceError(f"scale link on {self.port} is closed")
        if not self._started:
            if require_port:
                self._opened = open_port(self.port, self.protocol, self._serial_factory)
            self._started = True
            self._thread.start()
        return self

    def send(self, command: Command) -> Future[bool]:
        """Queue a zero/tare/clear; the future holds whether the scale accepted it, or a
        ``DeviceError`` when it did not answer or the link is down."""
        if self.protocol.request(command) is None:
            raise DeviceError(f"the {self.protocol.title} protocol has no {command} command")
        future: Future[bool] = Future()
        if self._stop.is_set():
            future.set_exception(DeviceError(f"scale link on {self.port} is closed"))
            return future
        self._commands.put((command, future))
        self._wake.set()
        return future

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._started and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._opened is not None:  # closed before the thread took it over
            self._opened.close()
            self._opened = None
        self._fail_commands("scale link closed")

    def __enter__(self) -> ScaleLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.backoff_initial_s
        while not self._stop.is_set():
            ser, self._opened = self._opened, None
            try:
                if ser is None:
                    ser = open_port(self.port, self.protocol, self._serial_factory)
            except DeviceError as exc:
                log.debug("%s", exc)
                self._lost("unplugged")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            try:
                self.connected = True
                ser.reset_input_buffer()
                if self.protocol.continuous:
                    answered = self._stream(ser)
                else:
                    answered = self._poll(ser)
                if answered:
                    backoff = self.backoff_initial_s
            except (serial.SerialException, OSError, termios.error) as exc:
                log.warning("scale on %s lost: %s", self.port, exc)
                self._lost("unplugged")
            except Exception:  # a bug must not silently end the thread: report, reopen, go on
                log.exception("scale on %s: unexpected error", self.port)
                self._lost("error")
            finally:
                self.connected = False
                try:
                    ser.close()
                except (serial.SerialException, OSError):
                    pass
            if not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    def _lost(self, reason: str) -> None:
        self._fail_commands(f"scale on {self.port} {reason}")
        self._listener.connection_lost(reason)

    def _fail_commands(self, why: str) -> None:
        while True:
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(DeviceError(why))

    def _check_port(self) -> None:
        if self.port.startswith("/") and not os.path.exists(self.port):
            raise PortVanished(f"{self.port} vanished")

    def _poll(self, ser: Any) -> bool:
        """Request/response until the port fails or the link closes. Returns whether the scale
        answered at least once (which resets the backoff)."""
        parser = self.protocol.parser()
        answered = False
        next_poll = time.monotonic()
        while not self._stop.is_set():
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                delay = next_poll - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    self._wake.clear()
                    continue
                command, future = Command.WEIGH, None
                next_poll = time.monotonic() + self.poll_interval_s
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            request = self.protocol.request(command)
            assert request is not None  # send() refuses commands the protocol lacks
            timeout = self.reply_timeout_s if command is Command.WEIGH else self.command_timeout_s
            ser.reset_input_buffer()  # stale bytes and late replies to earlier requests
            parser.reset()
            ser.write(request)
            frame, heard = self._read_reply(ser, parser, timeout)
            if frame is None:
                if future is not None:
                    future.set_exception(DeviceError(f"scale on {self.port} did not answer {command}"))
                if not heard and not self._stop.is_set():
                    self._listener.no_answer()
                continue
            answered = True
            if future is not None:
                accepted = frame.kind is not FrameKind.REJECTED and self.protocol.accepted(command, frame)
                self._listener.command_done(command, accepted)
                future.set_result(accepted)
            self._listener.frame_received(frame)
        return answered

    def _read_reply(self, ser: Any, parser: FrameParser, timeout: float) -> tuple[Frame | None, bool]:
        """The first well-formed frame after a request, and whether anything at all was heard.
        Garbled frames before it (line noise, a cut frame) go to the listener as they come."""
        heard = False
        deadline = time.monotonic() + timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            data = ser.read(ser.in_waiting or 1)
            if not data:
                self._check_port()
                continue
            for frame in parser.feed(data):
                heard = True
                if frame.kind is not FrameKind.GARBLED:
                    return frame, True  # anything after the reply is unrequested: flushed next time
                self._listener.frame_received(frame)
        return None, heard

    def _stream(self, ser: Any) -> bool:
        parser = self.protocol.parser()
        answered = False
        last_frame = time.monotonic()
        while not self._stop.is_set():
            self._fail_commands(f"the {self.protocol.title} protocol takes no commands")
            if ser.in_waiting > STALE_BYTES:  # fell behind: old weights are worthless
                ser.reset_input_buffer()
                parser.reset()
            data = ser.read(ser.in_waiting or 1)
            now = time.monotonic()
            if data:
                for frame in parser.feed(data):
                    answered = True
                    last_frame = now
                    self._listener.frame_received(frame)
            else:
                self._check_port()
            if now - last_frame > self.reply_timeout_s:
                last_frame = now
                self._listener.no_answer()
        return answered
