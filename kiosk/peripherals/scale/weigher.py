"""Turns decoded frames into ``WeightReading`` values for one scale role. Pure: no I/O, no threads.

Both roles apply two-gate stability (the scale's motion flag, then ``StabilityWindow``) and the
same validity rules: a reading is ``stable`` only with status ok and a weight from 0 to capacity,
so ``reading.stable`` is the one test the checkout needs before charging.

- produce (legal for trade): zero and tare are the scale's own commands only; no software offset.
- bagging (security): may zero in software when the protocol has no zero command.
"""

from __future__ import annotations

import time
from decimal import Decimal

from kiosk.events import ScaleRole, WeightReading
from kiosk.peripherals.scale.reading import Frame, FrameKind, Status
from kiosk.peripherals.scale.stability import Clock, StabilityWindow


class Weigher:
    def __init__(self, role: ScaleRole, *, capacity_g: int, division_g: int | Decimal = 5,
                 stable_window_s: float = 0.3, min_readings: int = 3,
                 clock: Clock = time.monotonic) -> None:
        self.role = role
        self.capacity_g = capacity_g
        self.window = StabilityWindow(division_g, stable_window_s, min_readings, clock)
        self._offset_g = 0  # software zero, bagging role only
        self._last_weight_g: int | None = None  # last weight the scale itself sent
        self._last_stable_raw_g: int | None = None

    @property
    def software_zero_g(self) -> int:
        return self._offset_g

    def accept(self, frame: Frame) -> WeightReading | None:
        """The reading a frame amounts to; None when it says nothing new (an ack, or a bare
        status report before any weight was seen)."""
        if frame.kind is FrameKind.ACK:
            return None
        if frame.kind is not FrameKind.READING:
            return self._invalid(Status.ERROR)
        weight = frame.weight_g
        if weight is None and frame.status is Status.OK:
            # Some 8217 scales send the weight once, then a clean status while it is unchanged.
            if self._last_weight_g is None:
                return None
            weight = self._last_weight_g
        self._last_weight_g = weight if frame.status is Status.OK else None
        if weight is None:
            return self._invalid(frame.status)
        status = frame.status
        raw = weight
        weight -= self._offset_g
        if raw > self.capacity_g:
            return self._invalid(Status.OVER_CAPACITY)
        if weight < 0:
            return self._invalid(Status.UNDER_ZERO)
        device_stable = status is Status.OK and not frame.motion
        settled = self.window.update(weight if device_stable else None)
        self._last_stable_raw_g = raw if settled else None
        return WeightReading(self.role, weight, settled, str(status))

    def silence(self) -> WeightReading:
        """The scale stopped answering, or was unplugged."""
        self.forget()
        return WeightReading(self.role, None, False, str(Status.NO_ANSWER))

    def forget(self) -> None:
        """Drop everything learnt from earlier frames (after a command or a reconnect)."""
        self.window.reset()
        self._last_weight_g = None
        self._last_stable_raw_g = None

    def zero_in_software(self) -> bool:
        """Bagging role only: take the current settled weight as zero. False if not settled."""
        if self.role is not ScaleRole.BAGGING:
            raise PermissionError("the produce scale is legal for trade: zero it with the scale's own command")
        if self._last_stable_raw_g is None or not self.window.settled:
            return False
        self._offset_g = self._last_stable_raw_g
        self.window.reset()
        return True

    def _invalid(self, status: Status) -> WeightReading:
        self.window.reset()
        self._last_stable_raw_g = None
        return WeightReading(self.role, None, False, str(status))
