"""``Scale``: a serial scale in one role (produce or bagging), posting events into the core.

It joins a protocol, a ``ScaleLink`` (the serial thread) and a ``Weigher`` (the role's rules) and
posts, through the injected ``post`` callable and from the link's thread:

- ``WeightReading`` whenever the reading changes (or every reading with ``changes_only=False``);
  after an unplug or silence a reading with ``weight_g=None`` and status ``no_answer``, so a stale
  weight is never used;
- ``DeviceState(device, "fault", "unplugged" | "no_answer")``, ``DeviceState(device, "warning",
  "garbled")`` when frames keep arriving malformed, and ``DeviceState(device, "ok")`` once frames
  decode again.

``reading`` always holds the latest reading, for a screen that opens with an item already on
the platter.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING

from kiosk.errors import DeviceError
from kiosk.events import DeviceState, Post, ScaleRole, WeightReading
from kiosk.peripherals.scale.protocol import ScaleProtocol
from kiosk.peripherals.scale.protocols import protocol_named
from kiosk.peripherals.scale.reading import Command, Frame, FrameKind
from kiosk.peripherals.scale.stability import Clock
from kiosk.peripherals.scale.transport import ScaleLink, SerialFactory
from kiosk.peripherals.scale.weigher import Weigher

if TYPE_CHECKING:
    from kiosk.config import ScaleSection
    from kiosk.peripherals.scale.simulator import ScaleSimulator

log = logging.getLogger(__name__)

DEVICE_NAMES = {ScaleRole.PRODUCE: "scale", ScaleRole.BAGGING: "bagging_scale"}
MISSES_BEFORE_FAULT = 2
GARBLED_BEFORE_WARNING = 5


def grams(kg: float | str | Decimal) -> int:
    """Kilograms from config or a command line -> whole grams, exactly (via the decimal text)."""
    return int((Decimal(str(kg)) * 1000).to_integral_value())


class Scale:
    def __init__(self, role: ScaleRole, protocol: ScaleProtocol | str, port: str, post: Post, *,
                 capacity_g: int = 15_000, division_g: int | Decimal = 5,
                 stable_window_s: float = 0.3, poll_interval_s: float = 0.2,
                 min_readings: int = 3, changes_only: bool = True,
                 reply_timeout_s: float | None = None, command_timeout_s: float | None = None,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 10.0,
                 clock: Clock = time.monotonic, serial_factory: SerialFactory | None = None) -> None:
        self.role = role
        self.device = DEVICE_NAMES[role]
        self.protocol = protocol_named(protocol)
        self.port = port
        self.changes_only = changes_only
        self.simulator: ScaleSimulator | None = None  # set by open_scale(simulate=True)
        self._post = post
        self._lock = threading.Lock()
        self._weigher = Weigher(role, capacity_g=capacity_g, division_g=division_g,
                                stable_window_s=stable_window_s, min_readings=min_readings, clock=clock)
        self._link = ScaleLink(port, self.protocol, self, poll_interval_s=poll_interval_s,
                               reply_timeout_s=reply_timeout_s, command_timeout_s=command_timeout_s,
                               backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
                               serial_factory=serial_factory, name=self.device)
        self._reading: WeightReading | None = None
        self._changed = threading.Condition(self._lock)
        self._health: tuple[str, str] | None = None
        self._misses = 0
        self._garbled = 0
        self._closed = False

    @classmethod
    def from_config(cls, section: ScaleSection, role: ScaleRole, post: Post, *,
                    port: str | None = None, **options: object) -> Scale:
        """A scale built from ``Config.scale`` (produce) or ``Config.bagging_scale`` (bagging)."""
        return cls(role, section.protocol, port or section.port, post,
                   capacity_g=grams(section.capacity_kg), division_g=Decimal(str(section.division_g)),
                   stable_window_s=section.stable_window_s, poll_interval_s=section.poll_interval_s,
                   **options)  # type: ignore[arg-type]

    # -- public --------------------------------------------------------------------------------

    @property
    def reading(self) -> WeightReading | None:
        """The latest reading (None before the first one)."""
        return self._reading

    @property
    def health(self) -> tuple[str, str] | None:
        """The last posted (state, reason), None before the scale first answered or failed."""
        return self._health

    def wait_reading(self, timeout: float, *, stable: bool = True) -> WeightReading | None:
        """Block until the latest reading is stable (or any reading, with ``stable=False``), at
        most ``timeout`` seconds; None on time-out. For the CLI, doctor and scenario steps, never
        for the core thread, which gets readings through ``post``."""
        def ready() -> bool:
            return self._reading is not None and (self._reading.stable or not stable)

        with self._changed:
            return self._reading if self._changed.wait_for(ready, timeout) else None

    def start(self, require_port: bool = False) -> Scale:
        """Start reading. With ``require_port`` a port that cannot be opened raises
        ``DeviceError`` here instead of being retried in the background."""
        if self._closed:
            raise DeviceError(f"{self.device} on {self.port} is closed")
        self._link.start(require_port)
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._link.close()
        if self.simulator is not None:
            self.simulator.close()

    def __enter__(self) -> Scale:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def zero(self) -> Future[bool]:
        """Zero with the scale's own command (only when the platter is empty and still). The
        bagging scale zeroes in software when the protocol has none; the produce scale cannot."""
        if not self.protocol.supports(Command.ZERO) and self.role is ScaleRole.BAGGING:
            future: Future[bool] = Future()
            with self._lock:
                future.set_result(self._weigher.zero_in_software())
            return future
        return self._command(Command.ZERO)

    def tare(self) -> Future[bool]:
        """Tare with the scale's own command, so the net weight is the scale's legal value."""
        return self._command(Command.TARE)

    def clear_tare(self) -> Future[bool]:
        return self._command(Command.CLEAR_TARE)

    # -- LinkListener (called from the link's thread) ----------------------------------------

    def frame_received(self, frame: Frame) -> None:
        self._misses = 0
        if frame.kind is FrameKind.GARBLED:
            self._garbled += 1
            if self._garbled >= GARBLED_BEFORE_WARNING:
                self._set_health("warning", "garbled")
        else:
            self._garbled = 0
            self._set_health("ok", "")
        with self._lock:
            reading = self._weigher.accept(frame)
        if reading is not None:
            self._publish(reading)

    def command_done(self, command: Command, accepted: bool) -> None:
        log.info("%s %s: %s", self.device, command, "done" if accepted else "refused")
        with self._lock:
            self._weigher.forget()  # a bare status after zero/tare must not repeat an old weight

    def no_answer(self) -> None:
        self._misses += 1
        if self._misses >= MISSES_BEFORE_FAULT:
            self._set_health("fault", "no_answer")
            with self._lock:
                reading = self._weigher.silence()
            self._publish(reading)

    def connection_lost(self, reason: str) -> None:
        self._misses = 0
        self._set_health("fault", reason)
        with self._lock:
            reading = self._weigher.silence()
        self._publish(reading)

    # -- inside --------------------------------------------------------------------------------

    def _command(self, command: Command) -> Future[bool]:
        if self._closed:
            raise DeviceError(f"{self.device} on {self.port} is closed")
        return self._link.send(command)  # raises DeviceError when the protocol lacks it

    def _publish(self, reading: WeightReading) -> None:
        with self._changed:
            previous, self._reading = self._reading, reading
            self._changed.notify_all()
        if self.changes_only and reading == previous:
            return
        self._post(reading)

    def _set_health(self, state: str, reason: str) -> None:
        if self._health == (state, reason):
            return
        self._health = (state, reason)
        if state == "ok":
            log.info("%s on %s: ok", self.device, self.port)
        else:
            log.warning("%s on %s: %s (%s)", self.device, self.port, state, reason)
        self._post(DeviceState(self.device, state, reason))
