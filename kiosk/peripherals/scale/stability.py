"""The software gate of two-gate stability (the scale's own motion flag is the other gate).

A weight counts as settled when at least ``min_readings`` consecutive readings lie within one
display division of each other and that run has lasted ``window_s`` by the injected clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal

Clock = Callable[[], float]
EPSILON_S = 1e-6  # float clocks: 100.3 - 100.0 < 0.3

class StabilityWindow:
    def __init__(self, division_g: int | Decimal, window_s: float, min_readings: int = 3,
                 clock: Clock = time.monotonic) -> None:
        if min_readings < 1:
            raise ValueError("min_readings must be at least 1")
        if division_g < 0 or window_s < 0:
            raise ValueError("division_g and window_s must not be negative")
        self.division_g = Decimal(division_g)
        self.window_s = window_s
        self.min_readings = min_readings
        self._clock = clock
        self._run: deque[tuple[float, int]] = deque()  # (time, grams), the current settled run

    def reset(self) -> None:
        self._run.clear()

    def update(self, weight_g: int | None) -> bool:
        """Add a reading the scale itself calls stable (None = no usable weight: the run ends).
        True when the run is long enough in count and in time."""
        if weight_g is None:
            self._run.clear()
            return False
        now = self._clock()
        run = self._run
        run.append((now, weight_g))
        while len(run) > 1 and max(w for _, w in run) - min(w for _, w in run) > self.division_g:
            run.popleft()
        # Older readings are only needed to date the start of the run: keep one beyond the window.
        while len(run) > self.min_readings and now - run[1][0] >= self.window_s - EPSILON_S:
            run.popleft()
        return self._long_enough(now)

    @property
    def settled(self) -> bool:
        return self._long_enough(self._clock())

    def _long_enough(self, now: float) -> bool:
        run = self._run
        return len(run) >= self.min_readings and now - run[0][0] >= self.window_s - EPSILON_S
